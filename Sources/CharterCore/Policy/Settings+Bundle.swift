extension Settings {
    /// The document as bundle format 1 carries it to agents (docs/bundle-format.md, `policy`).
    ///
    /// Agents that already run know the settings of schema version 1 as they were when bundle format 1 was
    /// published; what they could misread stays out, and each omission is the safe one offline:
    /// - `reason_and_approval_required` travels as `approval_required` (offline both need an approval, so the
    ///   agent offers the PIN challenge; online the service asks for the reason);
    /// - entries carry no `id` (agents match by content; the id is the admin API's);
    /// - a pre-approved entry without a file name, or whose location starts with a folder variable, is left out:
    ///   offline such an application falls back to the mode (approval, PIN), online the service matches it.
    package var bundleFormat1: Settings {
        var settings = self
        settings.runAsAdmin.mode = runAsAdmin.mode.bundleFormat1
        settings.adminSession.mode = adminSession.mode.bundleFormat1
        settings.preApprovedApplications = preApprovedApplications.filter(\.isBundleFormat1).map { entry in
            // Ids name entries for the admin API; agents match entries by their content.
            var carried = entry
            carried.id = nil
            return carried
        }
        return settings
    }
}

extension Settings.PreApprovedApplication {
    /// Whether bundle format 1 agents read this entry as the service does: it names a file, and a location has
    /// no folder variable.
    package var isBundleFormat1: Bool {
        guard fileName != nil else { return false }
        if case .path(let location) = protection, location.folder != nil { return false }
        return true
    }
}
