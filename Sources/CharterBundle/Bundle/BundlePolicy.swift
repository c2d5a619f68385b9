public import CharterJSON
internal import Foundation

/// The policy part of a bundle: deduplicated effective-settings documents and who gets which.
///
/// The documents are the service's effective settings, carried schema-agnostic as JSON
/// objects under ids local to the bundle. The computer's own document, the document for a user
/// the bundle does not list (`default_user`), and one per known user refer to them by id, so a
/// policy shared by many users is carried once.
public struct BundlePolicy: Sendable, Hashable, Codable {
    /// A user known on the device and the id of the document that applies to them.
    ///
    /// At least one of `sid`, `guid` and `upn` identifies the user.
    public struct User: Sendable, Hashable, Codable {
        /// The user's security identifier, such as `S-1-5-21-…`.
        public var sid: String?
        /// The user's `objectGUID` in the standard string form.
        public var guid: String?
        /// The user's user principal name.
        public var upn: String?
        /// The id of the document in ``BundlePolicy/documents`` that applies to the user.
        public var document: String

        /// Creates a user entry.
        ///
        /// - Parameters:
        ///   - sid: The security identifier.
        ///   - guid: The objectGUID.
        ///   - upn: The user principal name.
        ///   - document: The id of the user's document.
        public init(sid: String? = nil, guid: String? = nil, upn: String? = nil, document: String) {
            self.sid = sid
            self.guid = guid
            self.upn = upn
            self.document = document
        }

        /// The entry as a JSON object, without the absent identifiers.
        public var jsonValue: JSONValue {
            var members: [String: JSONValue] = ["document": .string(document)]
            if let sid { members["sid"] = .string(sid) }
            if let guid { members["guid"] = .string(guid) }
            if let upn { members["upn"] = .string(upn) }
            return .object(members)
        }

        /// Encodes the entry.
        ///
        /// - Parameter encoder: The encoder to write to.
        /// - Throws: Only what the encoder throws.
        public func encode(to encoder: any Encoder) throws {
            try jsonValue.encode(to: encoder)
        }
    }

    /// The effective-settings documents by bundle-local id; each is a JSON object.
    ///
    /// Changing them drops the canonical texts given to ``init(encodedDocuments:computer:defaultUser:users:)``.
    public var documents: [String: JSONValue] {
        didSet { encodedDocuments = nil }
    }
    /// The canonical JSON text of every document by id, when the policy was made from encoded documents;
    /// the issuer copies them instead of encoding ``documents`` again. Not part of equality or coding.
    private(set) var encodedDocuments: [String: Data]? = nil
    /// The id of the document that applies to the computer itself.
    public var computer: String
    /// The id of the document that applies to a user the bundle does not list.
    public var defaultUser: String
    /// The users known on the device.
    public var users: [User]

    /// Creates a policy.
    ///
    /// - Parameters:
    ///   - documents: The documents by id.
    ///   - computer: The computer's document id.
    ///   - defaultUser: The document id for unknown users.
    ///   - users: The known users.
    public init(documents: [String: JSONValue], computer: String, defaultUser: String, users: [User]) {
        self.documents = documents
        self.computer = computer
        self.defaultUser = defaultUser
        self.users = users
    }

    /// Creates a policy from documents encoded once, for a service that issues many bundles carrying the
    /// same documents: issuing copies their canonical text instead of encoding them again.
    ///
    /// The policy equals, encodes and signs exactly as one made with
    /// ``init(documents:computer:defaultUser:users:)`` from the documents' values.
    ///
    /// - Parameters:
    ///   - encodedDocuments: The documents by id, each with its canonical text.
    ///   - computer: The computer's document id.
    ///   - defaultUser: The document id for unknown users.
    ///   - users: The known users.
    public init(
        encodedDocuments: [String: EncodedDocument],
        computer: String,
        defaultUser: String,
        users: [User]
    ) {
        self.documents = encodedDocuments.mapValues(\.value)
        self.encodedDocuments = encodedDocuments.mapValues(\.canonicalData)
        self.computer = computer
        self.defaultUser = defaultUser
        self.users = users
    }

    /// Compares the policies' content; how documents were given does not matter.
    public static func == (lhs: BundlePolicy, rhs: BundlePolicy) -> Bool {
        lhs.documents == rhs.documents && lhs.computer == rhs.computer && lhs.defaultUser == rhs.defaultUser
            && lhs.users == rhs.users
    }

    /// Hashes the policy's content.
    ///
    /// - Parameter hasher: The hasher.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(documents)
        hasher.combine(computer)
        hasher.combine(defaultUser)
        hasher.combine(users)
    }

    private enum CodingKeys: String, CodingKey {
        case documents
        case computer
        case defaultUser = "default_user"
        case users
    }

    /// The policy as a JSON object.
    public var jsonValue: JSONValue {
        [
            "documents": .object(documents),
            "computer": .string(computer),
            "default_user": .string(defaultUser),
            "users": .array(users.map(\.jsonValue)),
        ]
    }

    /// Encodes the policy.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: Only what the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }

    /// The document that applies to a user, found by SID, then objectGUID, then UPN (the last
    /// two compared case-insensitively), or the default document.
    ///
    /// - Parameters:
    ///   - sid: The user's SID, if known.
    ///   - guid: The user's objectGUID, if known.
    ///   - upn: The user's UPN, if known.
    /// - Returns: The user's effective settings.
    public func settings(forUserSID sid: String?, guid: String? = nil, upn: String? = nil) -> JSONValue? {
        let guid = guid?.lowercased()
        let upn = upn?.lowercased()
        let match =
            users.first { sid != nil && $0.sid == sid }
            ?? users.first { guid != nil && $0.guid?.lowercased() == guid }
            ?? users.first { upn != nil && $0.upn?.lowercased() == upn }
        return documents[match?.document ?? defaultUser]
    }

    /// The document that applies to the computer.
    public var computerSettings: JSONValue? {
        documents[computer]
    }

    /// The first problem of the policy, as the name of the offending member, or `nil` when it
    /// is consistent: every document is an object, every reference names a document, and
    /// every user has an identifier.
    var firstInconsistency: String? {
        if documents.values.contains(where: { $0.objectValue == nil }) {
            return "policy.documents"
        }
        if documents[computer] == nil {
            return "policy.computer"
        }
        if documents[defaultUser] == nil {
            return "policy.default_user"
        }
        for user in users {
            if documents[user.document] == nil || (user.sid == nil && user.guid == nil && user.upn == nil) {
                return "policy.users"
            }
        }
        return nil
    }
}
