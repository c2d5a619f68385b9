/// What the report operations refuse.
package enum ReportError: RefusalConvertible, Equatable {
    /// A period that is empty, reversed or longer than ``ReportService/maximumPeriod`` (422, naming the parameter).
    case invalidPeriod(String, field: String)

    package var refusal: Refusal {
        switch self {
        case .invalidPeriod(let detail, let field): Refusal(.invalid, detail, field: field)
        }
    }
}
