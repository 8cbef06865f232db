"""The HTTP layer: the API, the web page, operations routes, auth, problems, OpenAPI, rate limits.

It only translates HTTP to calls of the job layer and errors to problem+json; it never touches a tensor."""
