package import Foundation
package import Logging

/// Reads an Active Directory domain (or the part under a base DN) as plain values: a full
/// snapshot or the changes since a watermark, streamed a page at a time.
///
/// The reader knows nothing of storage: it hands each batch to a closure and returns the
/// identity and watermark to store with the data, in the same transaction.
///
/// ```swift
/// let reader = DirectoryReader(connection: connection, baseDN: "DC=example,DC=com", logger: logger)
/// let identity = try await reader.readFull { batch in try await staging.insert(batch.objects) }
/// // store identity.watermark with the data; later:
/// switch try await reader.readIncremental(since: watermark) { batch in … } { … }
/// ```
package struct DirectoryReader: Sendable {
    /// Tuning of the reader.
    package struct Options: Sendable, Hashable {
        /// Entries per page of the paged search (at most 1000).
        package var pageSize: Int
        /// When set, `member` is always requested in ranges of this many values, as AD itself
        /// answers for groups of more than 1500 members. `nil` requests plain `member`, and the
        /// reader follows whatever ranges the server chooses to return.
        package var memberRangeSize: Int?
        /// An incremental read asks for at most this many USNs as one equality term each; a wider gap since the
        /// watermark is asked for as a range (see ``DirectoryReader/changedFilter(after:through:maximumTerms:)``).
        package var maximumUSNTerms: Int

        package init(pageSize: Int = 1000, memberRangeSize: Int? = nil, maximumUSNTerms: Int = 500) {
            self.pageSize = pageSize
            self.memberRangeSize = memberRangeSize
            self.maximumUSNTerms = maximumUSNTerms
        }
    }

    /// One page of results.
    package struct Batch: Sendable, Hashable {
        /// Objects created or changed (all objects, in a full read).
        package var objects: [DirectoryObject]
        /// objectGUIDs of tombstones: objects deleted since the watermark (incremental reads only).
        package var deletedGUIDs: [UUID]
        /// Totals so far, this batch included.
        package var progress: Progress

        package init(objects: [DirectoryObject], deletedGUIDs: [UUID], progress: Progress) {
            self.objects = objects
            self.deletedGUIDs = deletedGUIDs
            self.progress = progress
        }
    }

    /// How far a read has come.
    package struct Progress: Sendable, Hashable {
        package var objectsRead: Int = 0
        package var tombstonesRead: Int = 0
        package var pagesRead: Int = 0

        package init() {}
    }

    /// The outcome of an incremental read.
    package enum IncrementalResult: Sendable, Hashable {
        /// The changes were delivered; store `identity.watermark` with them.
        case completed(DomainControllerIdentity, Progress)
        /// The watermark cannot be continued here; nothing was delivered. Run a full read.
        case fullSyncRequired(reason: String)
    }

    package let connection: LDAPConnection
    /// A second connection to the same DC, for full reads: the search is split in two halves by objectGUID
    /// and both run at once, so a DC with more than one core answers in about half the time. `nil` reads over
    /// `connection` alone.
    package let secondConnection: LDAPConnection?
    package let baseDN: String
    package let options: Options
    let logger: Logger

    package init(
        connection: LDAPConnection, secondConnection: LDAPConnection? = nil, baseDN: String,
        options: Options = Options(), logger: Logger
    ) {
        self.connection = connection
        self.secondConnection = secondConnection
        self.baseDN = baseDN
        self.options = options
        self.logger = logger
    }

    /// Reads the DC's identity: rootDSE, the NTDS Settings `invocationId`, the domain SID.
    ///
    /// - Throws: `ActiveDirectoryError.notActiveDirectory` when the rootDSE lacks AD's attributes;
    ///   `LDAPError` from the connection.
    package func readIdentity() async throws -> DomainControllerIdentity {
        let root = try await connection.readRootDSE()
        guard let serviceName = root.string("dsServiceName"),
            let usn = root.integer("highestCommittedUSN"),
            let namingContext = root.string("defaultNamingContext")
        else {
            throw ActiveDirectoryError.notActiveDirectory(
                reason: "rootDSE lacks dsServiceName, highestCommittedUSN or defaultNamingContext"
            )
        }
        guard let settings = try await connection.read(serviceName, attributes: ["invocationId"]),
            let bytes = settings.value("invocationId"), let invocationID = UUID(activeDirectoryBytes: bytes)
        else {
            throw ActiveDirectoryError.notActiveDirectory(reason: "\(serviceName) has no invocationId")
        }
        let domain = try await connection.read(namingContext, attributes: ["objectSid"])
        return DomainControllerIdentity(
            serviceName: serviceName,
            invocationID: invocationID,
            highestCommittedUSN: usn,
            defaultNamingContext: namingContext,
            dnsHostName: root.string("dnsHostName"),
            domainSID: domain?.value("objectSid").flatMap { SecurityIdentifier(bytes: $0) }
        )
    }

    /// Reads every domain root, OU, group, user and computer under the base DN.
    ///
    /// The identity (with `highestCommittedUSN`) is read before the search starts, so a change
    /// made during the read is at or above the watermark and the next incremental read sees it.
    /// With a ``secondConnection`` to the same DC, and a DC that orders objectGUIDs, the search runs as two
    /// halves at once (``splitSearches(for:)``); pages of both reach `onBatch` one at a time, interleaved.
    ///
    /// - Parameter onBatch: called once per page, never concurrently; it may store the page while the next is read.
    /// - Returns: the DC identity whose `watermark` the caller stores with the data.
    /// - Throws: `LDAPError`, `ActiveDirectoryError`, or what `onBatch` throws. The caller must
    ///   then discard everything it received.
    package func readFull(onBatch: (Batch) async throws -> Void) async throws -> DomainControllerIdentity {
        let identity = try await readIdentity()
        let searches = try await splitSearches(for: identity)
        logger.info(
            "directory full read started",
            metadata: ["ldap.dc": "\(identity.serviceName)", "ldap.searches": "\(searches.count)"]
        )
        var progress = Progress()
        if searches.count == 1 {
            try await readObjects(filter: DirectoryObject.filter, progress: &progress, onBatch: onBatch)
        } else {
            try await readConcurrently(searches, progress: &progress, onBatch: onBatch)
        }
        logger.info("directory full read finished", metadata: ["directory.objects": "\(progress.objectsRead)"])
        return identity
    }

    /// One search of a full read: the connection it runs over and its filter.
    package struct Search: Sendable {
        package var connection: LDAPConnection
        package var filter: String
    }

    /// The searches of a full read: the halves below and above the middle objectGUID, one per connection, or the
    /// whole read over ``connection`` when there is no second connection, it reached another DC (failover), or
    /// the DC does not order objectGUIDs.
    ///
    /// GUIDs are random, so the halves are even whatever the directory's shape. The order is the DC's octet
    /// string order (Samba and AD compare the 16 bytes as stored); whether the DC has it is asked of the base
    /// object itself, `(&(objectGUID<=g)(objectGUID>=g))` on its own GUID `g`: a DC without it evaluates both
    /// terms as undefined and returns nothing, and would do the same to each half.
    package func splitSearches(for identity: DomainControllerIdentity) async throws -> [Search] {
        let whole = [Search(connection: connection, filter: DirectoryObject.filter)]
        guard let secondConnection else { return whole }
        let secondDC = try await secondConnection.readRootDSE(attributes: ["dsServiceName"]).string("dsServiceName")
        guard let secondDC, (try? DistinguishedName(secondDC)) == (try? DistinguishedName(identity.serviceName)) else {
            logger.notice(
                "directory full read over one connection: the second reached another DC",
                metadata: ["ldap.dc": "\(identity.serviceName)", "ldap.second_dc": "\(secondDC ?? "none")"]
            )
            return whole
        }
        guard let base = try await connection.read(baseDN, attributes: ["objectGUID"]),
            let guid = base.value("objectGUID")
        else { return whole }
        let value = LDAPFilter.escape(bytes: guid)
        let probe = LDAPSearchRequest(
            base: baseDN, scope: .base, filter: "(&(objectGUID<=\(value))(objectGUID>=\(value)))",
            attributes: ["1.1"], pageSize: 0
        )
        guard try await connection.searchAll(probe).count == 1 else {
            logger.notice("directory full read over one connection: the DC does not order objectGUIDs")
            return whole
        }
        let lowerHalf = "(objectGUID<=\(LDAPFilter.escape(bytes: [0x7f] + Array(repeating: 0xff, count: 15))))"
        return [
            Search(connection: connection, filter: "(&\(lowerHalf)\(DirectoryObject.filter))"),
            Search(connection: secondConnection, filter: "(&(!\(lowerHalf))\(DirectoryObject.filter))"),
        ]
    }

    /// A page of one of several concurrent searches, handed to the task that calls `onBatch`; the search waits
    /// for `accepted` before it reads on, so no more than one page per search is held.
    private struct Handoff: Sendable {
        var objects: [DirectoryObject]
        var accepted: CheckedContinuation<Void, any Error>
    }

    /// Runs `searches` at once and calls `onBatch` from this task for their pages, taken from each search in turn
    /// (the first's first page, the second's first page, the first's second page, …; the rest of the longer one
    /// at the end), so that the same directory is read as the same sequence of pages: a connector that resumes
    /// an interrupted upload reads again and skips the pages the service already holds.
    private func readConcurrently(
        _ searches: [Search], progress: inout Progress, onBatch: (Batch) async throws -> Void
    ) async throws {
        let streams = searches.map { _ in AsyncThrowingStream.makeStream(of: Handoff.self) }
        var totals = progress
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (search, stream) in zip(searches, streams) {
                let sink = stream.continuation
                group.addTask {
                    do {
                        try await self.searchObjects(search) { objects in
                            try await withCheckedThrowingContinuation { accepted in
                                if case .terminated = sink.yield(Handoff(objects: objects, accepted: accepted)) {
                                    accepted.resume(throwing: CancellationError())
                                }
                            }
                        }
                        sink.finish()
                    } catch {
                        sink.finish(throwing: error)
                        throw error
                    }
                }
            }
            var iterators = streams.map { $0.stream.makeAsyncIterator() }
            do {
                var turn = 0
                while !iterators.isEmpty {
                    guard let page = try await iterators[turn].next(isolation: #isolation) else {
                        iterators.remove(at: turn)
                        if turn == iterators.count { turn = 0 }
                        continue
                    }
                    do {
                        totals.objectsRead += page.objects.count
                        totals.pagesRead += 1
                        try await onBatch(Batch(objects: page.objects, deletedGUIDs: [], progress: totals))
                        page.accepted.resume()
                    } catch {
                        page.accepted.resume(throwing: error)
                        throw error
                    }
                    turn = (turn + 1) % iterators.count
                }
            } catch {
                // Searches blocked on a page handed over before this failure are released; later ones see their
                // stream finished.
                for stream in streams { stream.continuation.finish() }
                for index in iterators.indices {
                    while let page = try? await iterators[index].next(isolation: #isolation) {
                        page.accepted.resume(throwing: CancellationError())
                    }
                }
                throw error
            }
            try await group.waitForAll()
        }
        progress = totals
    }

    /// Reads what changed since `watermark`: objects whose `uSNChanged` is above it, then the
    /// objectGUIDs of tombstones deleted since. When the DC's `highestCommittedUSN` has not moved, nothing
    /// changed and nothing is searched.
    ///
    /// - Parameters:
    ///   - watermark: from the last read that was stored.
    ///   - onBatch: called once per page, in order.
    /// - Returns: `.completed` with the new identity to store, or `.fullSyncRequired` when
    ///   another DC answered or this DC's `invocationId` changed.
    package func readIncremental(
        since watermark: DirectoryWatermark, onBatch: (Batch) async throws -> Void
    ) async throws -> IncrementalResult {
        let identity = try await readIdentity()
        if let reason = watermark.fullSyncReason(on: identity) {
            logger.notice("directory full sync required", metadata: ["reason": "\(reason)"])
            return .fullSyncRequired(reason: reason)
        }
        var progress = Progress()
        logger.debug(
            "directory incremental read",
            metadata: ["ldap.usn.watermark": "\(watermark.usn)", "ldap.usn.highest": "\(identity.highestCommittedUSN)"]
        )
        guard
            let changed = Self.changedFilter(
                after: watermark.usn, through: identity.highestCommittedUSN, maximumTerms: options.maximumUSNTerms
            )
        else { return .completed(identity, progress) }
        try await readObjects(filter: "(&\(changed)\(DirectoryObject.filter))", progress: &progress, onBatch: onBatch)
        let tombstones = LDAPSearchRequest(
            base: "CN=Deleted Objects,\(identity.defaultNamingContext)", scope: .oneLevel,
            filter: "(&(isDeleted=TRUE)\(changed))", attributes: ["objectGUID"], pageSize: options.pageSize,
            showsDeleted: true
        )
        try await connection.search(tombstones) { entries in
            let guids = entries.compactMap { $0.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) } }
            progress.tombstonesRead += guids.count
            progress.pagesRead += 1
            try await onBatch(Batch(objects: [], deletedGUIDs: guids, progress: progress))
        }
        return .completed(identity, progress)
    }

    /// A filter term for the objects whose `uSNChanged` lies above `usn` and at most at `highest` (the
    /// `highestCommittedUSN` read before the search), or `nil` when no USN lies there.
    ///
    /// Both Active Directory and Samba index `uSNChanged` for equality, but Samba answers a range (`>=`) only by
    /// reading every object of the partition: 0.3 s at 13,000 objects, whatever else the filter says. Up to
    /// `maximumTerms` USNs are therefore asked for as one equality term each (0.02 s for 1, 0.16 s for 500 on the
    /// same DC); a wider gap as a range. Objects changed after `highest` are left to the next read, whose
    /// watermark is `highest`.
    package static func changedFilter(after usn: Int64, through highest: Int64, maximumTerms: Int) -> String? {
        guard highest > usn else { return nil }
        guard highest - usn <= Int64(maximumTerms) else { return "(uSNChanged>=\(usn + 1))" }
        if highest == usn + 1 { return "(uSNChanged=\(highest))" }
        var filter = "(|"
        for changed in (usn + 1)...highest { filter += "(uSNChanged=\(changed))" }
        return filter + ")"
    }

    private func readObjects(
        filter: String, progress: inout Progress, onBatch: (Batch) async throws -> Void
    ) async throws {
        var totals = progress
        try await searchObjects(Search(connection: connection, filter: filter)) { objects in
            totals.objectsRead += objects.count
            totals.pagesRead += 1
            try await onBatch(Batch(objects: objects, deletedGUIDs: [], progress: totals))
        }
        progress = totals
    }

    /// Runs one subtree search under the base DN and hands each page's objects, members read whole, to `onPage`.
    private func searchObjects(
        _ search: Search, onPage: (_ objects: [DirectoryObject]) async throws -> Void
    ) async throws {
        let memberAttribute = options.memberRangeSize.map { "member;range=0-\($0 - 1)" } ?? "member"
        let request = LDAPSearchRequest(
            base: baseDN, scope: .subtree, filter: search.filter,
            attributes: DirectoryObject.attributes + [memberAttribute], pageSize: options.pageSize,
            returnsExtendedDNs: true
        )
        try await search.connection.search(request) { entries in
            var objects: [DirectoryObject] = []
            objects.reserveCapacity(entries.count)
            for entry in entries {
                let members = try await members(of: entry, over: search.connection)
                if let object = try DirectoryObject(entry: entry, members: members) { objects.append(object) }
            }
            try await onPage(objects)
        }
    }

    /// Every `member` value of `entry`, following ranges the server returned.
    private func members(of entry: LDAPEntry, over connection: LDAPConnection) async throws -> [ExtendedDN] {
        var values = entry.values("member")
        if let range = entry.range(of: "member") {
            values += range.values
            if let high = range.high {
                values += try await connection.readAllValues(
                    of: ExtendedDN(parsing: entry.dn).dn, attribute: "member", from: high + 1,
                    rangeSize: options.memberRangeSize, returnsExtendedDNs: true
                )
            }
        }
        return values.map { ExtendedDN(parsing: String(decoding: $0, as: UTF8.self)) }
    }
}
