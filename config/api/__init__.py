"""Cross-cutting pieces of the REST API: error shape and pagination."""
