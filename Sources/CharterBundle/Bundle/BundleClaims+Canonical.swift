import CharterJSON

extension BundleClaims {
    /// The canonical JSON text of ``jsonValue``, the signed payload, written member by member
    /// (in their byte order) without building the `JSONValue` tree of the claims first.
    ///
    /// Documents given pre-encoded (``BundlePolicy/init(encodedDocuments:computer:defaultUser:users:)``)
    /// are copied as they are.
    var canonicalBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(16_384)
        output.append(contentsOf: #"{"aud":"#.utf8)
        JSONValue.write(string: deviceID, to: &output)
        output.append(contentsOf: #","exp":"#.utf8)
        JSONValue.write(integer: NumericDate(expiresAt).seconds, to: &output)
        output.append(contentsOf: #","iat":"#.utf8)
        JSONValue.write(integer: NumericDate(issuedAt).seconds, to: &output)
        output.append(contentsOf: #","iss":"#.utf8)
        JSONValue.write(string: issuer, to: &output)
        output.append(contentsOf: #","nbf":"#.utf8)
        JSONValue.write(integer: NumericDate(notBefore).seconds, to: &output)
        output.append(contentsOf: #","pin":"#.utf8)
        pin.jsonValue.writeCanonical(to: &output)
        output.append(contentsOf: #","policy":"#.utf8)
        policy.writeCanonical(to: &output)
        output.append(contentsOf: #","refresh_after":"#.utf8)
        JSONValue.write(integer: NumericDate(refreshAfter).seconds, to: &output)
        output.append(contentsOf: #","signing_keys":["#.utf8)
        for (index, key) in signingKeys.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            key.jsonValue.writeCanonical(to: &output)
        }
        output.append(contentsOf: #"],"sub":"#.utf8)
        JSONValue.write(string: deviceID, to: &output)
        output.append(contentsOf: #","tenant":"#.utf8)
        JSONValue.write(string: tenant, to: &output)
        output.append(contentsOf: #","ver":"#.utf8)
        JSONValue.write(integer: version, to: &output)
        output.append(UInt8(ascii: "}"))
        return output
    }
}

extension BundlePolicy {
    /// Appends the canonical JSON text of ``jsonValue``.
    func writeCanonical(to output: inout [UInt8]) {
        output.append(contentsOf: #"{"computer":"#.utf8)
        JSONValue.write(string: computer, to: &output)
        output.append(contentsOf: #","default_user":"#.utf8)
        JSONValue.write(string: defaultUser, to: &output)
        output.append(contentsOf: #","documents":{"#.utf8)
        var isFirst = true
        for (id, document) in documents.sorted(by: { JSONValue.utf8Precedes($0.key, $1.key) }) {
            if !isFirst { output.append(UInt8(ascii: ",")) }
            isFirst = false
            JSONValue.write(string: id, to: &output)
            output.append(UInt8(ascii: ":"))
            if let encoded = encodedDocuments?[id] {
                output.append(contentsOf: encoded)
            } else {
                document.writeCanonical(to: &output)
            }
        }
        output.append(contentsOf: #"},"users":["#.utf8)
        for (index, user) in users.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            user.writeCanonical(to: &output)
        }
        output.append(contentsOf: "]}".utf8)
    }
}

extension BundlePolicy.User {
    /// Appends the canonical JSON text of ``jsonValue``.
    func writeCanonical(to output: inout [UInt8]) {
        output.append(contentsOf: #"{"document":"#.utf8)
        JSONValue.write(string: document, to: &output)
        if let guid {
            output.append(contentsOf: #","guid":"#.utf8)
            JSONValue.write(string: guid, to: &output)
        }
        if let sid {
            output.append(contentsOf: #","sid":"#.utf8)
            JSONValue.write(string: sid, to: &output)
        }
        if let upn {
            output.append(contentsOf: #","upn":"#.utf8)
            JSONValue.write(string: upn, to: &output)
        }
        output.append(UInt8(ascii: "}"))
    }
}
