extension TenantOverview {
    /// The orders the overview can be read in. Counts go from most to fewest; ties go by name, then id.
    package enum Order: String, CaseIterable, Hashable, Sendable {
        /// The most serious reason first (``AttentionReason``'s order), then the next one, and so on; then the
        /// most pending requests.
        case attention
        /// By name, ignoring case.
        case name
        case pendingRequests = "pending_requests"
        case devices
        case staleDevices = "stale_devices"
        case behindDevices = "behind_devices"
    }

    /// Which tenants to show, in which order, from where.
    package struct Query: Hashable, Sendable {
        /// `true`: only tenants with a reason; `false`: only tenants without one; `nil`: all.
        package var needsAttention: Bool?
        /// Only tenants with at least one of these reasons; empty: no condition.
        package var reasons: Set<AttentionReason>
        package var order: Order
        /// The last tenant of the previous page.
        package var after: TenantID?
        package var limit: Int

        package init(
            needsAttention: Bool? = nil, reasons: Set<AttentionReason> = [], order: Order = .attention,
            after: TenantID? = nil, limit: Int = 50
        ) {
            self.needsAttention = needsAttention
            self.reasons = reasons
            self.order = order
            self.after = after
            self.limit = limit
        }

        /// Whether `tenant` passes the filters.
        package func matches(_ tenant: TenantOverview) -> Bool {
            let reasons = tenant.reasons
            if let needsAttention, needsAttention == reasons.isEmpty { return false }
            if !self.reasons.isEmpty, self.reasons.isDisjoint(with: reasons) { return false }
            return true
        }
    }

    /// One page of the overview.
    package struct Page: Hashable, Sendable {
        package var items: [TenantOverview]
        /// The tenant to continue after, when more follow.
        package var next: TenantID?

        package init(items: [TenantOverview], next: TenantID?) {
            self.items = items
            self.next = next
        }
    }

    /// The page `query` asks for out of every tenant in scope.
    ///
    /// The position of a cursor is the place its tenant holds in the order now, among all tenants (filtered or
    /// not), so a tenant whose figures changed between two pages may move across the boundary. A cursor naming
    /// a tenant that is no longer in scope (deleted) ends the listing: the page is empty.
    package static func page(of tenants: [TenantOverview], _ query: Query) -> Page {
        let sorted = tenants.map { Ranked($0, in: query.order) }.sorted(by: Ranked.precedes).map(\.tenant)
        var start = sorted.startIndex
        if let after = query.after {
            guard let index = sorted.firstIndex(where: { $0.tenant == after }) else {
                return Page(items: [], next: nil)
            }
            start = index + 1
        }
        var items: [TenantOverview] = []
        for tenant in sorted[start...] where query.matches(tenant) {
            guard items.count < query.limit else { return Page(items: items, next: items.last?.tenant) }
            items.append(tenant)
        }
        return Page(items: items, next: nil)
    }

    /// The reasons as one number that orders tenants as ``Order/attention`` does: each reason outweighs every
    /// less serious one together.
    package var attentionWeight: Int {
        let present = Set(reasons)
        let all = AttentionReason.allCases
        var weight = 0
        for (index, reason) in all.enumerated() where present.contains(reason) {
            weight |= 1 << (all.count - 1 - index)
        }
        return weight
    }
}

/// A tenant with what `order` compares it by, worked out once rather than at every comparison of the sort.
private struct Ranked {
    let tenant: TenantOverview
    /// The counts compared first, most important first; larger comes first.
    let counts: [Int]
    let name: String
    let id: String

    init(_ tenant: TenantOverview, in order: TenantOverview.Order) {
        self.tenant = tenant
        counts =
            switch order {
            case .attention: [tenant.attentionWeight, tenant.pendingRequests]
            case .name: []
            case .pendingRequests: [tenant.pendingRequests]
            case .devices: [tenant.devices.total]
            case .staleDevices: [tenant.devices.stale]
            case .behindDevices: [tenant.devices.behind]
            }
        name = tenant.name.lowercased()
        id = tenant.tenant.description
    }

    /// Whether `lhs` comes before `rhs`: counts largest first, then by name ignoring case, then by id.
    static func precedes(_ lhs: Ranked, _ rhs: Ranked) -> Bool {
        for (left, right) in zip(lhs.counts, rhs.counts) where left != right { return left > right }
        if lhs.name != rhs.name { return lhs.name < rhs.name }
        return lhs.id < rhs.id
    }
}
