print("web-service: not yet implemented")
