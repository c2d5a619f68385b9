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
///
/// A *location* (the `path` of a pre-approved entry, ``init(location:)``) may also start with a folder
/// variable, `%ProgramFiles%`, `%ProgramFiles(x86)%` or `%SystemRoot%` (see ``KnownFolder``).
///
/// Names compare as NTFS compares them: scalar by scalar, each mapped to its simple (one-scalar) upper case.
/// So `Straße` is not `STRASSE`, and a precomposed `é` is not `e` followed by a combining accent, although
/// Swift's `String` equality would say both are equal.
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
    /// The folder variable a location was written with; its expansion is in ``root`` and ``components``.
    package private(set) var folder: KnownFolder? = nil

    /// A path of already normalised parts.
    fileprivate init(root: Root, components: [String]) {
        self.root = root
        self.components = components
    }

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

    /// Parses a location: an absolute path, or one that starts with a folder variable (`%ProgramFiles%\Vendor`).
    ///
    /// The variable (case-insensitive, ending at `%`, followed by nothing or a separator) is replaced by the
    /// folder's fixed value (``KnownFolder/path``) and the result parsed as an absolute path, which must stay
    /// within the folder: `%ProgramFiles%\..\Users` is not a location. An unknown variable is not either.
    package init?(location text: String) {
        guard text.hasPrefix("%") else {
            guard let path = WindowsPath(text) else { return nil }
            self = path
            return
        }
        let afterPercent = text.dropFirst()
        guard let end = afterPercent.firstIndex(of: "%"),
            let folder = KnownFolder.allCases.first(where: {
                $0.rawValue.uppercased() == afterPercent[..<end].uppercased()
            })
        else { return nil }
        let rest = afterPercent[afterPercent.index(after: end)...]
        guard rest.isEmpty || rest.hasPrefix("\\") || rest.hasPrefix("/"),
            let expanded = WindowsPath(folder.path.description + "\\" + rest),
            expanded.isLocated(under: folder.path)
        else { return nil }
        self = expanded
        self.folder = folder
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

    /// A name folded for comparison: each scalar mapped to its simple upper case when that is one scalar.
    ///
    /// NTFS (and SMB servers) compare names through a one-to-one upcase table; full Unicode case mapping
    /// (`ß` → `SS`) and canonical equivalence would make names equal that name different files.
    package static func folded(_ name: String) -> [Unicode.Scalar] {
        name.unicodeScalars.map { scalar in
            let upper = scalar.properties.uppercaseMapping.unicodeScalars
            return upper.count == 1 ? upper[upper.startIndex] : scalar
        }
    }

    /// Whether two names are equal as NTFS compares them (see ``folded(_:)``).
    package static func sameName(_ lhs: String, _ rhs: String) -> Bool {
        folded(lhs) == folded(rhs)
    }

    /// Whether the roots are equal: the same drive letter, or the same server and share.
    private static func sameRoot(_ lhs: Root, _ rhs: Root) -> Bool {
        switch (lhs, rhs) {
        case (.drive(let left), .drive(let right)): left == right
        case (.unc(let leftServer, let leftShare), .unc(let rightServer, let rightShare)):
            sameName(leftServer, rightServer) && sameName(leftShare, rightShare)
        default: false
        }
    }

    /// Whether this path is `location` itself or lies anywhere below it.
    ///
    /// The match ends at a component boundary: `C:\Tools2\app.exe` is not under `C:\Tools`.
    package func isLocated(under location: WindowsPath) -> Bool {
        guard Self.sameRoot(root, location.root), location.components.count <= components.count else {
            return false
        }
        return zip(location.components, components).allSatisfy { Self.sameName($0, $1) }
    }

    /// The normalised form with back slashes, e.g. `C:\Program Files\Vendor` or `\\server\share\dir`; a
    /// location written with a folder variable keeps it (`%ProgramFiles%\Vendor`).
    package var description: String {
        if let folder {
            let rest = components.dropFirst(folder.path.components.count)
            return (["%\(folder.rawValue)%"] + rest).joined(separator: "\\")
        }
        let head =
            switch root {
            case .drive(let letter): "\(letter):"
            case .unc(let server, let share): "\\\\\(server)\\\(share)"
            }
        return components.isEmpty && head.hasSuffix(":") ? head + "\\" : ([head] + components).joined(separator: "\\")
    }
}

/// A Windows folder a pre-approved location may start with, as a variable (`%ProgramFiles%\Vendor`).
///
/// Agents report the final, resolved path of the file they opened; the service never sees a variable in a
/// request. A variable therefore stands for one fixed value, the folder's location on a standard Windows
/// installation on drive `C:`. On a computer where the folder lies elsewhere the entry matches nothing (the
/// safe outcome); write the literal path in an entry for such computers.
package enum KnownFolder: String, Hashable, Sendable, CaseIterable {
    case programFiles = "ProgramFiles"
    case programFilesX86 = "ProgramFiles(x86)"
    case systemRoot = "SystemRoot"

    /// The folder's fixed value.
    package var path: WindowsPath {
        switch self {
        case .programFiles: WindowsPath(root: .drive("C"), components: ["Program Files"])
        case .programFilesX86: WindowsPath(root: .drive("C"), components: ["Program Files (x86)"])
        case .systemRoot: WindowsPath(root: .drive("C"), components: ["Windows"])
        }
    }
}
