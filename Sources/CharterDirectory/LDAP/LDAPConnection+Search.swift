import CLDAP

/// The extent of a search below its base.
package enum LDAPSearchScope: Sendable, Hashable {
    case base, oneLevel, subtree

    var rawValue: Int32 {
        switch self {
        case .base: LDAP_SCOPE_BASE
        case .oneLevel: LDAP_SCOPE_ONELEVEL
        case .subtree: LDAP_SCOPE_SUBTREE
        }
    }
}

/// A search: base, scope, filter, attributes, and the controls Charter uses.
package struct LDAPSearchRequest: Sendable, Hashable {
    package var base: String
    package var scope: LDAPSearchScope
    /// An RFC 4515 filter; build values into it with `LDAPFilter.escape`.
    package var filter: String
    /// The attributes to return; empty returns all user attributes.
    package var attributes: [String]
    /// Entries per page with the paged-results control (1.2.840.113556.1.4.319); 0 sends no paging control.
    package var pageSize: Int
    /// Sends the Show Deleted control (1.2.840.113556.1.4.417) so tombstones are returned.
    package var showsDeleted: Bool
    /// Sends the extended DN control (1.2.840.113556.1.4.529, string form) so DN-valued attributes
    /// such as `member` come as `<GUID=…>;<SID=…>;CN=…`.
    package var returnsExtendedDNs: Bool

    package init(
        base: String, scope: LDAPSearchScope = .subtree, filter: String = "(objectClass=*)", attributes: [String] = [],
        pageSize: Int = 1000, showsDeleted: Bool = false, returnsExtendedDNs: Bool = false
    ) {
        self.base = base
        self.scope = scope
        self.filter = filter
        self.attributes = attributes
        self.pageSize = pageSize
        self.showsDeleted = showsDeleted
        self.returnsExtendedDNs = returnsExtendedDNs
    }
}

extension LDAPConnection {
    /// Runs a paged search and hands each page to `onPage` as it arrives, while the next page is read.
    ///
    /// One page is read ahead: while `onPage` decodes and stores page *n*, the thread pool reads
    /// page *n + 1*, so a slow consumer and a slow server overlap instead of adding up.
    ///
    /// - Parameters:
    ///   - request: the search; `pageSize` is capped at 1000, AD's default MaxPageSize.
    ///   - onPage: called once per page, in order, never concurrently; an error stops the search.
    /// - Throws: `LDAPError` from the server or the connection (each page bounded by the operation
    ///   timeout), or what `onPage` throws.
    package func search(
        _ request: LDAPSearchRequest, onPage: (_ entries: [LDAPEntry]) async throws -> Void
    ) async throws {
        var capped = request
        capped.pageSize = min(request.pageSize, 1000)
        let request = capped
        var page = try await readPage(request, cookie: nil)
        while let cookie = page.cookie {
            let current = page.entries
            page = try await withThrowingTaskGroup(of: SearchPage.self) { group in
                group.addTask { try await self.readPage(request, cookie: cookie) }
                try await onPage(current)
                guard let next = try await group.next() else {
                    throw LDAPError(code: .other, operation: "search", diagnosticMessage: "page reader vanished")
                }
                return next
            }
        }
        try await onPage(page.entries)
    }

    /// Runs a search and returns every entry of every page.
    package func searchAll(_ request: LDAPSearchRequest) async throws -> [LDAPEntry] {
        var entries: [LDAPEntry] = []
        try await search(request) { entries += $0 }
        return entries
    }

    /// Reads one entry by DN, or `nil` when it does not exist.
    package func read(_ dn: String, attributes: [String], showsDeleted: Bool = false) async throws -> LDAPEntry? {
        let request = LDAPSearchRequest(
            base: dn, scope: .base, attributes: attributes, pageSize: 0, showsDeleted: showsDeleted
        )
        do {
            return try await searchAll(request).first
        } catch let error as LDAPError where error.code == .noSuchObject {
            return nil
        }
    }

    /// Reads every value of a multi-valued attribute with ranged retrieval.
    ///
    /// Asks for `attribute;range=low-*` (or `low-high` chunks of `rangeSize` values) and follows
    /// the server's answers (`member;range=0-1499`, `member;range=1500-2999`, …) until a range
    /// ends in `*`. A server that returns the plain attribute has returned everything.
    ///
    /// - Parameters:
    ///   - dn: the entry.
    ///   - attribute: e.g. `member`.
    ///   - low: the first index to read; values before it are the caller's.
    ///   - rangeSize: values per request, or `nil` to let the server choose (AD: 1500).
    ///   - returnsExtendedDNs: sends the extended DN control.
    /// - Returns: the values from `low` on, in server order.
    package func readAllValues(
        of dn: String, attribute: String, from low: Int = 0, rangeSize: Int? = nil, returnsExtendedDNs: Bool = false
    ) async throws -> [[UInt8]] {
        var values: [[UInt8]] = []
        var low = low
        while true {
            let upper = rangeSize.map { String(low + $0 - 1) } ?? "*"
            let request = LDAPSearchRequest(
                base: dn, scope: .base, attributes: ["\(attribute);range=\(low)-\(upper)"], pageSize: 0,
                returnsExtendedDNs: returnsExtendedDNs
            )
            guard let entry = try await searchAll(request).first else { return values }
            guard let range = entry.range(of: attribute) else {
                // No ranged answer: the plain attribute holds what is left (or nothing is left).
                return values + (low == 0 ? entry.values(attribute) : [])
            }
            values += range.values
            guard let high = range.high else { return values }
            guard high >= low else {
                throw LDAPError(
                    code: .decodingError, operation: "ranged read",
                    diagnosticMessage: "range \(low)-\(high) of \(attribute) does not advance", url: url
                )
            }
            low = high + 1
        }
    }

    /// Reads the rootDSE: `dsServiceName`, `highestCommittedUSN`, `defaultNamingContext`, and what else is asked.
    package func readRootDSE(
        attributes: [String] = ["dsServiceName", "highestCommittedUSN", "defaultNamingContext", "dnsHostName"]
    ) async throws -> LDAPEntry {
        guard let entry = try await read("", attributes: attributes) else {
            throw LDAPError(code: .noSuchObject, operation: "read rootDSE", url: url)
        }
        return entry
    }

    fileprivate struct SearchPage: Sendable {
        var entries: [LDAPEntry]
        /// The paging cookie for the next page; `nil` after the last page.
        var cookie: [UInt8]?
    }

    fileprivate func readPage(_ request: LDAPSearchRequest, cookie: [UInt8]?) async throws -> SearchPage {
        let milliseconds = operationMilliseconds
        return try await withHandle("search") { ld throws(LDAPError) in
            let handle = LDAPHandle(pointer: ld)
            var controls: [UnsafeMutablePointer<LDAPControl>?] = []
            defer { for control in controls { ldap_control_free(control) } }
            if request.pageSize > 0 {
                var control: UnsafeMutablePointer<LDAPControl>?
                let rc = withCookie(cookie) { ldap_create_page_control(ld, Int32(request.pageSize), $0, 0, &control) }
                try handle.check(rc, "create paging control")
                controls.append(control)
            }
            if request.showsDeleted {
                var control: UnsafeMutablePointer<LDAPControl>?
                try handle.check(charter_ldap_control("1.2.840.113556.1.4.417", nil, 0, 1, &control), "show deleted")
                controls.append(control)
            }
            if request.returnsExtendedDNs {
                var control: UnsafeMutablePointer<LDAPControl>?
                try handle.check(charter_ldap_extended_dn_control(1, &control), "extended DN control")
                controls.append(control)
            }
            controls.append(nil)
            return try handle.search(request, controls: &controls, milliseconds: milliseconds)
        }
    }
}

/// Calls `body` with a berval over `cookie`, or `nil` for the first page.
private func withCookie<T>(_ cookie: [UInt8]?, _ body: (UnsafeMutablePointer<berval>?) -> T) -> T {
    guard var bytes = cookie else { return body(nil) }
    return bytes.withUnsafeMutableBytes { buffer in
        var value = berval(
            bv_len: ber_len_t(buffer.count), bv_val: buffer.baseAddress?.assumingMemoryBound(to: CChar.self)
        )
        return body(&value)
    }
}

extension LDAPHandle {
    /// Sends one search request and collects its whole answer. Blocks, at most `milliseconds`.
    fileprivate func search(
        _ request: LDAPSearchRequest, controls: inout [UnsafeMutablePointer<LDAPControl>?], milliseconds: Int
    ) throws(LDAPError) -> LDAPConnection.SearchPage {
        var cAttributes: [UnsafeMutablePointer<CChar>?] = request.attributes.map { strdup($0) } + [nil]
        defer { for attribute in cAttributes { free(attribute) } }
        var msgid: Int32 = 0
        let seconds = Int32(max(1, (milliseconds + 999) / 1000))
        let rc = cAttributes.withUnsafeMutableBufferPointer { attributes in
            controls.withUnsafeMutableBufferPointer { controls in
                charter_ldap_search(
                    pointer, request.base, request.scope.rawValue, request.filter,
                    request.attributes.isEmpty ? nil : attributes.baseAddress, controls.baseAddress, seconds, &msgid
                )
            }
        }
        try check(rc, "search")

        var result: OpaquePointer?
        let got = charter_ldap_result(pointer, msgid, LDAP_MSG_ALL, milliseconds, &result)
        defer { if let result { ldap_msgfree(result) } }
        if got == 0 {
            ldap_abandon_ext(pointer, msgid, nil, nil)
            throw LDAPError(
                code: .timeout, operation: "search",
                diagnosticMessage: "no complete answer within \(milliseconds) ms for base \(request.base)"
            )
        }
        guard got > 0 else { throw error(charter_ldap_result_code(pointer), "search") }

        var page = LDAPConnection.SearchPage(entries: [], cookie: nil)
        var message = ldap_first_message(pointer, result)
        while let current = message {
            switch ber_tag_t(bitPattern: Int(ldap_msgtype(current))) {
            case LDAP_RES_SEARCH_ENTRY:
                page.entries.append(entry(current))
            case LDAP_RES_SEARCH_RESULT:
                page.cookie = try done(current)
            default:
                // Continuation references (AD's DNS partitions below a domain root) are not followed.
                break
            }
            message = ldap_next_message(pointer, current)
        }
        return page
    }

    /// Checks a SearchResultDone and returns the paging cookie it carries, if more pages follow.
    private func done(_ message: OpaquePointer) throws(LDAPError) -> [UInt8]? {
        var code: Int32 = 0
        var matched: UnsafeMutablePointer<CChar>?
        var diagnostic: UnsafeMutablePointer<CChar>?
        var serverControls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        let rc = ldap_parse_result(pointer, message, &code, &matched, &diagnostic, nil, &serverControls, 0)
        defer {
            if let matched { ldap_memfree(matched) }
            if let diagnostic { ldap_memfree(diagnostic) }
            if let serverControls { ldap_controls_free(serverControls) }
        }
        try check(rc, "parse search result")
        guard code == LDAP_SUCCESS else {
            throw LDAPError(
                code: .init(rawValue: code), operation: "search",
                diagnosticMessage: diagnostic.map { String(cString: $0) } ?? "",
                matchedDN: matched.map { String(cString: $0) } ?? ""
            )
        }
        guard let serverControls,
            let control = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, serverControls, nil)
        else { return nil }
        var count: ber_int_t = 0
        var cookie = berval()
        try check(ldap_parse_pageresponse_control(pointer, control, &count, &cookie), "parse paging control")
        defer { ldap_memfree(cookie.bv_val) }
        guard cookie.bv_len > 0, let start = cookie.bv_val else { return nil }
        return Array(UnsafeRawBufferPointer(start: start, count: Int(cookie.bv_len)))
    }

    /// Copies an entry's DN and attribute values.
    private func entry(_ message: OpaquePointer) -> LDAPEntry {
        var dn = ""
        if let cDN = ldap_get_dn(pointer, message) {
            dn = String(cString: cDN)
            ldap_memfree(cDN)
        }
        var attributes: [String: [[UInt8]]] = [:]
        var ber: OpaquePointer?
        var name = ldap_first_attribute(pointer, message, &ber)
        while let cName = name {
            var values: [[UInt8]] = []
            if let cValues = ldap_get_values_len(pointer, message, cName) {
                var index = 0
                while let value = cValues[index] {
                    let bytes = value.pointee.bv_val.map {
                        Array(UnsafeRawBufferPointer(start: $0, count: Int(value.pointee.bv_len)))
                    }
                    values.append(bytes ?? [])
                    index += 1
                }
                ldap_value_free_len(cValues)
            }
            attributes[String(cString: cName), default: []] += values
            ldap_memfree(cName)
            name = ldap_next_attribute(pointer, message, ber)
        }
        if let ber { ber_free(ber, 0) }
        return LDAPEntry(dn: dn, attributes: attributes)
    }
}
