/// The OpenAPI 3.1 description of the web service's API, served at `/openapi.json` and rendered
/// at `/docs`. `OpenAPIConformanceTests` checks it against the running service.
public enum OpenAPIDocument {
    public static let json = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "Email web service",
            "version": "1.0.0",
            "description": "Accepts emails and forwards them to the email service through RabbitMQ. An accepted email is stored durably before the 202 answer and is delivered once, also when the broker is down at the time."
          },
          "paths": {
            "/api/emails": {
              "post": {
                "operationId": "sendEmail",
                "summary": "Accept an email for delivery",
                "requestBody": {
                  "required": true,
                  "content": { "application/json": { "schema": { "$ref": "#/components/schemas/EmailRequest" } } }
                },
                "responses": {
                  "202": { "description": "Accepted and stored; it will be delivered.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Email" } } } },
                  "400": { "description": "The body is not JSON of the expected shape.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                  "415": { "description": "The body is not application/json.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                  "422": { "description": "A field is invalid; fields says which and why.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                }
              }
            },
            "/api/emails/{id}": {
              "get": {
                "operationId": "getEmail",
                "summary": "An accepted email and its delivery status",
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": {
                  "200": { "description": "The email.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Email" } } } },
                  "404": { "description": "No email with this id (or it is too old to be kept).", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                }
              }
            },
            "/health/live": {
              "get": { "operationId": "live", "summary": "The process is up", "responses": { "200": { "description": "Alive.", "content": { "text/plain": { "schema": { "type": "string" } } } } } }
            },
            "/health/ready": {
              "get": {
                "operationId": "ready",
                "summary": "The broker connection is up",
                "responses": {
                  "200": { "description": "Ready: emails are published as they are accepted.", "content": { "text/plain": { "schema": { "type": "string" } } } },
                  "503": { "description": "The broker is unreachable: emails are still accepted and kept in the outbox.", "content": { "text/plain": { "schema": { "type": "string" } } } }
                }
              }
            },
            "/metrics": {
              "get": { "operationId": "metrics", "summary": "Prometheus metrics", "responses": { "200": { "description": "Prometheus text format 0.0.4.", "content": { "text/plain": { "schema": { "type": "string" } } } } } }
            }
          },
          "components": {
            "schemas": {
              "EmailRequest": {
                "type": "object",
                "required": ["subject", "body", "recipient"],
                "properties": {
                  "subject": { "type": "string", "maxLength": 200, "description": "One line." },
                  "body": { "type": "string", "maxLength": 100000 },
                  "recipient": { "type": "string", "format": "email", "description": "An RFC 5322 addr-spec." }
                }
              },
              "Email": {
                "type": "object",
                "required": ["id", "status", "subject", "recipient", "acceptedAt"],
                "properties": {
                  "id": { "type": "string" },
                  "status": { "type": "string", "enum": ["accepted", "queued", "sent", "failed"], "description": "accepted: stored, not yet confirmed by the broker; queued: with the email service; sent or failed: its outcome." },
                  "subject": { "type": "string" },
                  "recipient": { "type": "string" },
                  "acceptedAt": { "type": "string", "format": "date-time" },
                  "detail": { "type": "string", "description": "Why it failed, or what the transport said." }
                }
              },
              "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                  "error": { "type": "string" },
                  "fields": { "type": "object", "additionalProperties": { "type": "string" } }
                }
              }
            }
          }
        }
        """#
}
