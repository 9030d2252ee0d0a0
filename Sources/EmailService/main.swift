print("email-service: not yet implemented")
