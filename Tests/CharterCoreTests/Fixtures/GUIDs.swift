import CharterCore
import Foundation

extension ObjectGUID {
    /// A readable, deterministic GUID: `00000000-0000-4000-8000-` followed by `number` in 12 hex digits.
    static func numbered(_ number: Int) -> ObjectGUID {
        let hex = String(number, radix: 16)
        let text = "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
        guard let guid = ObjectGUID(text) else { fatalError("bad fixture GUID \(text)") }
        return guid
    }
}

extension SubsettingID {
    static func numbered(_ number: Int) -> SubsettingID {
        SubsettingID(ObjectGUID.numbered(number).rawValue)
    }
}
