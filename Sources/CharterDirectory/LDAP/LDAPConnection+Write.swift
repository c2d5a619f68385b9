import CLDAP

/// One change of a modify operation.
package struct LDAPModification: Sendable, Hashable {
    package enum Operation: Sendable, Hashable {
        case add, delete, replace

        var rawValue: Int32 {
            switch self {
            case .add: LDAP_MOD_ADD
            case .delete: LDAP_MOD_DELETE
            case .replace: LDAP_MOD_REPLACE
            }
        }
    }

    package var operation: Operation
    package var attribute: String
    package var values: [[UInt8]]

    package init(_ operation: Operation, _ attribute: String, _ values: [[UInt8]]) {
        self.operation = operation
        self.attribute = attribute
        self.values = values
    }

    package init(_ operation: Operation, _ attribute: String, _ values: [String]) {
        self.init(operation, attribute, values.map { Array($0.utf8) })
    }
}

/// Writes: Charter only reads directories; provisioning tools and tests write with these.
extension LDAPConnection {
    /// Adds an entry with the given attributes.
    package func add(_ dn: String, attributes: [(String, [String])]) async throws {
        let modifications = attributes.map { LDAPModification(.add, $0.0, $0.1) }
        try await withHandle("add") { ld throws(LDAPError) in
            try LDAPHandle(pointer: ld).withMods(modifications) { mods in ldap_add_ext_s(ld, dn, mods, nil, nil) }
        }
    }

    /// Applies `modifications` to an entry, atomically.
    package func modify(_ dn: String, _ modifications: [LDAPModification]) async throws {
        try await withHandle("modify") { ld throws(LDAPError) in
            try LDAPHandle(pointer: ld).withMods(modifications) { mods in ldap_modify_ext_s(ld, dn, mods, nil, nil) }
        }
    }

    /// Deletes a leaf entry.
    package func delete(_ dn: String) async throws {
        try await withHandle("delete") { ld throws(LDAPError) in
            try LDAPHandle(pointer: ld).check(ldap_delete_ext_s(ld, dn, nil, nil), "delete")
        }
    }

    /// Renames (`newRDN`) and/or moves (`newParent`) an entry; the old RDN value is removed.
    package func rename(_ dn: String, newRDN: String, newParent: String? = nil) async throws {
        try await withHandle("rename") { ld throws(LDAPError) in
            try LDAPHandle(pointer: ld).check(ldap_rename_s(ld, dn, newRDN, newParent, 1, nil, nil), "rename")
        }
    }
}

extension LDAPHandle {
    /// Builds libldap's mod array for `modifications`, runs `body`, frees the array.
    fileprivate func withMods(
        _ modifications: [LDAPModification],
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<LDAPMod>?>) -> Int32
    ) throws(LDAPError) {
        guard let mods = charter_ldap_mods_alloc(modifications.count) else {
            throw LDAPError(code: .init(rawValue: LDAP_NO_MEMORY), operation: "build modification")
        }
        defer { charter_ldap_mods_free(mods) }
        for (index, modification) in modifications.enumerated() {
            guard
                let mod = charter_ldap_mod(
                    modification.operation.rawValue, modification.attribute, modification.values.count)
            else { throw LDAPError(code: .init(rawValue: LDAP_NO_MEMORY), operation: "build modification") }
            mods[index] = mod
            for (valueIndex, value) in modification.values.enumerated() {
                let rc = value.withUnsafeBytes { charter_ldap_mod_set_value(mod, valueIndex, $0.baseAddress, $0.count) }
                try check(rc, "build modification")
            }
        }
        try check(body(mods), "write")
    }
}
