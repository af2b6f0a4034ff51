"""Worker composition root and the embedded development stack (`relais dev`)."""
