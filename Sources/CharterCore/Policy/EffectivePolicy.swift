/// The settings that apply to one user on one computer (or to either alone), and where they came from.
package struct EffectivePolicy: Hashable, Sendable {
    /// Which settings decided: the global settings, or the subsetting that won.
    package enum Source: Hashable, Sendable {
        case global
        case subsetting(id: SubsettingID, name: String)
    }

    /// The global settings with the winner's sections replaced.
    package let settings: Settings
    package let source: Source

    package init(settings: Settings, source: Source) {
        self.settings = settings
        self.source = source
    }
}
