"""The registry sync custom resource (handler: registry_sync.handler.lambda_handler)."""
