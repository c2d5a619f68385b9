import Foundation

/// An absolute Windows path, normalised for comparison.
///
/// Parsing accepts drive paths (`C:\Program Files`), UNC paths (`\\server\share\dir`) and their
/// verbatim or device forms (`\\?\C:\...`, `\\?\UNC\server\share\...`, `\\.\C:\...`), with forward or back
/// slashes. It collapses repeated separators, drops `.` components, resolves `..`, and (outside the
/// verbatim form, as Win32 does) strips trailing dots and spaces from each component. Comparison is
/// case-insensitive.
///
/// Parsing fails (`nil`) for relative paths (`Tools\app.exe`, `\Tools`, drive-relative `C:Tools`), a `..`
/// that would climb above the root, alternate data streams (`app.exe:stream`) and characters Windows does
/// not allow in names. A failed parse never matches a protection, which is the safe outcome.
package struct WindowsPath: Hashable, Sendable, CustomStringConvertible {
    /// Where an absolute path starts.
    package enum Root: Hashable, Sendable {
        /// A drive, by its uppercase letter.
        case drive(Character)
        /// A network share.
        case unc(server: String, share: String)
    }

    package let root: Root
    /// The path's components after normalisation, in their original case.
    package let components: [String]

    /// Parses and normalises `text`; `nil` when it is not an absolute path (see the type's discussion).
    package init?(_ text: String) {
        var rest = Substring(text.replacingOccurrences(of: "/", with: "\\"))
        var isVerbatim = false
        for prefix in ["\\\\?\\", "\\\\.\\", "\\??\\"] where rest.hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count)
            isVerbatim = true
            if rest.uppercased().hasPrefix("UNC\\") {
                rest = "\\\\" + rest.dropFirst(4)
            }
            break
        }
        var parts: [Substring]
        if rest.hasPrefix("\\\\") {
            parts = rest.dropFirst(2).split(separator: "\\", omittingEmptySubsequences: true)
            guard parts.count >= 2,
                let server = Self.component(parts[0], isVerbatim: isVerbatim),
                let share = Self.component(parts[1], isVerbatim: isVerbatim)
            else { return nil }
            root = .unc(server: server, share: share)
            parts.removeFirst(2)
        } else {
            guard rest.count >= 2,
                let letter = rest.first, letter.isASCII, letter.isLetter,
                rest.dropFirst().first == ":"
            else { return nil }
            let afterDrive = rest.dropFirst(2)
            // `C:` alone names the drive's root; `C:Tools` is relative to the drive's current directory.
            guard afterDrive.isEmpty || afterDrive.hasPrefix("\\") else { return nil }
            root = .drive(Character(letter.uppercased()))
            parts = afterDrive.split(separator: "\\", omittingEmptySubsequences: true)
        }
        var resolved: [String] = []
        for part in parts {
            switch part {
            case ".":
                continue
            case "..":
                guard !resolved.isEmpty else { return nil }
                resolved.removeLast()
            default:
                guard let name = Self.component(part, isVerbatim: isVerbatim) else { return nil }
                resolved.append(name)
            }
        }
        components = resolved
    }

    /// A valid path component, with Win32's trailing dot and space stripping unless verbatim.
    private static func component(_ part: Substring, isVerbatim: Bool) -> String? {
        var name = part
        if !isVerbatim {
            while let last = name.last, last == "." || last == " " {
                name = name.dropLast()
            }
        }
        guard !name.isEmpty else { return nil }
        let forbidden: Set<Character> = ["<", ">", ":", "\"", "|", "?", "*"]
        guard !name.contains(where: { forbidden.contains($0) || ($0.asciiValue ?? 0x20) < 0x20 }) else {
            return nil
        }
        return String(name)
    }

    /// The root and components folded for case-insensitive comparison.
    private var foldedRoot: Root {
        switch root {
        case .drive: root
        case .unc(let server, let share): .unc(server: server.uppercased(), share: share.uppercased())
        }
    }

    /// Whether this path is `location` itself or lies anywhere below it.
    ///
    /// The match ends at a component boundary: `C:\Tools2\app.exe` is not under `C:\Tools`.
    package func isLocated(under location: WindowsPath) -> Bool {
        guard foldedRoot == location.foldedRoot, location.components.count <= components.count else {
            return false
        }
        return zip(location.components, components).allSatisfy { $0.uppercased() == $1.uppercased() }
    }

    /// The normalised form with back slashes, e.g. `C:\Program Files\Vendor` or `\\server\share\dir`.
    package var description: String {
        let head =
            switch root {
            case .drive(let letter): "\(letter):"
            case .unc(let server, let share): "\\\\\(server)\\\(share)"
            }
        return components.isEmpty && head.hasSuffix(":") ? head + "\\" : ([head] + components).joined(separator: "\\")
    }
}
