"""The error-code catalog transcribed from the providers' documentation."""
