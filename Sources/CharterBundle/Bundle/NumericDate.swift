internal import Foundation

/// A JWT NumericDate (RFC 7519 §2): seconds since the epoch, written as an integer.
///
/// Reading accepts fractional seconds, as the RFC allows; Charter writes whole seconds
/// (``seconds``), dropping the fraction.
struct NumericDate: Decodable, Hashable {
    let seconds: Int64

    init(_ date: Date) {
        self.seconds = Int64(date.timeIntervalSince1970.rounded(.down))
    }

    var date: Date {
        Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Int64.self) {
            self.seconds = seconds
        } else {
            let value = try container.decode(Double.self)
            guard value.isFinite, abs(value) < 1e15 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a NumericDate")
            }
            self.seconds = Int64(value.rounded(.down))
        }
    }
}
