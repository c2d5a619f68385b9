import CharterCore

/// A small hand-drawn directory with named objects, for tables with hand-written expectations.
///
/// ```
/// OU corp
/// ├── OU staff ── OU finance ── alice (user)
/// │          └── bob (user), carol (user)
/// ├── OU workstations ── ws1, ws2 (computers)
/// └── OU servers ── srv1 (computer)
/// dave (user) lies in no OU.
///
/// financeAdmins ∋ alice          financeAdmins ∈ finance ∈ allStaff
/// helpdesk ∋ bob                 itAdmins ∈ helpdesk  (itAdmins has no members)
/// cycleA ∋ carol, cycleB         cycleB ∋ cycleA      (a cycle)
/// kiosks ∋ ws2                   servers ∋ srv1
/// domainUsers: primary group of alice, bob, carol, dave (never listed as a member)
/// ```
enum SampleDirectory {
    static let corp = ObjectGUID.numbered(0x100)
    static let staff = ObjectGUID.numbered(0x101)
    static let financeOU = ObjectGUID.numbered(0x102)
    static let workstations = ObjectGUID.numbered(0x103)
    static let serversOU = ObjectGUID.numbered(0x104)

    static let allStaff = ObjectGUID.numbered(0x200)
    static let finance = ObjectGUID.numbered(0x201)
    static let financeAdmins = ObjectGUID.numbered(0x202)
    static let helpdesk = ObjectGUID.numbered(0x203)
    static let itAdmins = ObjectGUID.numbered(0x204)
    static let cycleA = ObjectGUID.numbered(0x205)
    static let cycleB = ObjectGUID.numbered(0x206)
    static let kiosks = ObjectGUID.numbered(0x207)
    static let servers = ObjectGUID.numbered(0x208)
    static let domainUsers = ObjectGUID.numbered(0x209)

    static let alice = ObjectGUID.numbered(0x300)
    static let bob = ObjectGUID.numbered(0x301)
    static let carol = ObjectGUID.numbered(0x302)
    static let dave = ObjectGUID.numbered(0x303)

    static let ws1 = ObjectGUID.numbered(0x400)
    static let ws2 = ObjectGUID.numbered(0x401)
    static let srv1 = ObjectGUID.numbered(0x402)

    static let graph = MembershipGraph(
        members: [
            allStaff: [finance],
            finance: [financeAdmins],
            financeAdmins: [alice],
            helpdesk: [bob, itAdmins],
            itAdmins: [],
            cycleA: [carol, cycleB],
            cycleB: [cycleA],
            kiosks: [ws2],
            servers: [srv1],
        ],
        primaryGroups: [alice: domainUsers, bob: domainUsers, carol: domainUsers, dave: domainUsers],
        parents: [
            staff: corp, financeOU: staff, workstations: corp, serversOU: corp,
            alice: financeOU, bob: staff, carol: staff, ws1: workstations, ws2: workstations, srv1: serversOU,
        ]
    )

    static let facts = DirectoryFacts(graph: graph)

    /// Names for readable test output and argument tables.
    static let names: [ObjectGUID: String] = [
        corp: "corp", staff: "staff", financeOU: "financeOU", workstations: "workstations", serversOU: "serversOU",
        allStaff: "allStaff", finance: "finance", financeAdmins: "financeAdmins", helpdesk: "helpdesk",
        itAdmins: "itAdmins", cycleA: "cycleA", cycleB: "cycleB", kiosks: "kiosks", servers: "servers",
        domainUsers: "domainUsers", alice: "alice", bob: "bob", carol: "carol", dave: "dave", ws1: "ws1",
        ws2: "ws2", srv1: "srv1",
    ]

    static func guid(_ name: String) -> ObjectGUID {
        guard let entry = names.first(where: { $0.value == name }) else { fatalError("no object named \(name)") }
        return entry.key
    }
}
