// Bundle's public API is made of JSON values (policy documents, claims, keys): a client that imports
// CharterBundle gets `JSONValue` with it, as it did when the type lived here.
@_exported public import CharterJSON
