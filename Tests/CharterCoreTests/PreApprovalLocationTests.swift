import CharterCore
import CharterJSON
import Foundation
import Testing

/// Locations of `path` protections with folder variables, and hostile request paths against them.
@Suite("Pre-approved locations")
struct PreApprovalLocationTests {
    @Test(
        "a folder variable expands to its fixed value and is written back as the variable",
        arguments: [
            (#"%ProgramFiles%\Vendor"#, #"C:\Program Files\Vendor"#, #"%ProgramFiles%\Vendor"#),
            (#"%programfiles%/Vendor/"#, #"C:\Program Files\Vendor"#, #"%ProgramFiles%\Vendor"#),
            (#"%PROGRAMFILES(X86)%\Vendor"#, #"C:\Program Files (x86)\Vendor"#, #"%ProgramFiles(x86)%\Vendor"#),
            (#"%SystemRoot%\System32"#, #"C:\Windows\System32"#, #"%SystemRoot%\System32"#),
            (#"%SystemRoot%"#, #"C:\Windows"#, #"%SystemRoot%"#),
            (#"%ProgramFiles%\Vendor\.\bin\..\lib"#, #"C:\Program Files\Vendor\lib"#, #"%ProgramFiles%\Vendor\lib"#),
            (#"%ProgramFiles%\..\Program Files\Vendor"#, #"C:\Program Files\Vendor"#, #"%ProgramFiles%\Vendor"#),
            (#"C:\Program Files\Vendor"#, #"C:\Program Files\Vendor"#, #"C:\Program Files\Vendor"#),
            (#"\\fileserver\apps\tools"#, #"\\fileserver\apps\tools"#, #"\\fileserver\apps\tools"#),
        ]
    )
    func expands(text: String, expanded: String, written: String) throws {
        let location = try #require(WindowsPath(location: text))
        #expect(location.description == written)
        #expect(location.isLocated(under: try #require(WindowsPath(expanded))))
        #expect(try #require(WindowsPath(expanded)).isLocated(under: location))
        // Written back, it reads as the same location.
        #expect(WindowsPath(location: written) == location)
    }

    @Test(
        "unknown, misplaced and escaping variables are not locations",
        arguments: [
            #"%APPDATA%\Vendor"#, #"%UserProfile%\Downloads"#, #"%ProgramFiles"#, #"%ProgramFiles%Vendor"#,
            #"%ProgramFiles%\..\Users\Public"#, #"%SystemRoot%\..\..\x"#, #"%%\x"#, #"%ProgramFiles%\a*b"#,
            #"%ProgramFiles%\\?\C:\x"#, #"C:\Tools\%ProgramFiles%\..\..\.."#, #"Program Files\Vendor"#,
        ]
    )
    func refuses(text: String) {
        #expect(WindowsPath(location: text) == nil)
    }

    @Test("a request path never holds a variable: agents report the resolved path")
    func requestPathsHaveNoVariables() {
        #expect(WindowsPath(#"%ProgramFiles%\Vendor\app.exe"#) == nil)
    }

    static let programFilesEntry = Settings.PreApprovedApplication(
        fileName: "app.exe", protection: .path(WindowsPath(location: #"%ProgramFiles%\Vendor"#)!)
    )
    static let shareEntry = Settings.PreApprovedApplication(
        fileName: "app.exe", protection: .path(WindowsPath(location: #"\\fileserver\apps\Vendor"#)!)
    )
    static let accentEntry = Settings.PreApprovedApplication(
        fileName: "app.exe", protection: .path(WindowsPath(location: "C:\\Caf\u{E9}\\STRASSE")!)
    )

    static func request(_ path: String) -> ElevationRequest.Application {
        ElevationRequest.Application(fileName: "app.exe", path: path)
    }

    @Test(
        "hostile request paths do not reach a protected location",
        arguments: [
            (programFilesEntry, #"C:\Program Files\Vendor\app.exe"#, true),
            (programFilesEntry, #"c:\program files\vendor\bin\app.exe"#, true),
            (programFilesEntry, #"\\?\C:\Program Files\Vendor\app.exe"#, true),
            (programFilesEntry, #"\\.\C:\Program Files\Vendor\app.exe"#, true),
            (programFilesEntry, #"C:\Program Files.\Vendor \app.exe"#, true),
            // Different locations, and spellings that only look alike.
            (programFilesEntry, #"C:\Program Files\VendorEvil\app.exe"#, false),
            (programFilesEntry, #"C:\Program Files\Vendor\..\Evil\app.exe"#, false),
            (programFilesEntry, #"C:\Program Files (x86)\Vendor\app.exe"#, false),
            (programFilesEntry, #"D:\Program Files\Vendor\app.exe"#, false),
            (programFilesEntry, #"C:\PROGRA~1\Vendor\app.exe"#, false),
            (programFilesEntry, #"\\?\C:\Program Files\Vendor.\app.exe"#, false),
            (programFilesEntry, #"\\localhost\C$\Program Files\Vendor\app.exe"#, false),
            (programFilesEntry, #"\\?\GLOBALROOT\Device\HarddiskVolume3\Program Files\Vendor\app.exe"#, false),
            (programFilesEntry, #"C:\Program Files\Vendor\app.exe:evil"#, false),
            (programFilesEntry, #"C:\Program Files\Vendor"# + "\u{0}" + #"\app.exe"#, false),
            (programFilesEntry, #"%ProgramFiles%\Vendor\app.exe"#, false),
            (programFilesEntry, #"C:Program Files\Vendor\app.exe"#, false),
            (shareEntry, #"\\FILESERVER\APPS\Vendor\app.exe"#, true),
            (shareEntry, #"\\?\UNC\fileserver\apps\Vendor\app.exe"#, true),
            (shareEntry, #"\\fileserver\apps\Vendor\..\..\apps2\Vendor\app.exe"#, false),
            (shareEntry, #"\\fileserver.evil.example\apps\Vendor\app.exe"#, false),
            (shareEntry, #"\\fileserver\apps$\Vendor\app.exe"#, false),
            (shareEntry, #"C:\apps\Vendor\app.exe"#, false),
            // NTFS compares names scalar by scalar with a one-to-one upper case: neither a decomposed accent
            // nor a full case mapping (ß → SS) names the same folder.
            (accentEntry, "C:\\CAF\u{C9}\\strasse\\app.exe", true),
            (accentEntry, "C:\\Cafe\u{301}\\STRASSE\\app.exe", false),
            (accentEntry, "C:\\Caf\u{E9}\\Stra\u{DF}e\\app.exe", false),
        ] as [(Settings.PreApprovedApplication, String, Bool)]
    )
    func hostile(entry: Settings.PreApprovedApplication, path: String, matches: Bool) {
        #expect(entry.matches(Self.request(path), as: .runAsAdmin) == matches)
    }

    @Test("a signer's entry without a file name covers any file of the signer, and nothing else")
    func signerWithoutFileName() {
        let entry = Settings.PreApprovedApplication(
            fileName: nil, protection: .certificate(.init(subject: "CN=Contoso Ltd", vendor: "Contoso"))
        )
        let signed = ElevationRequest.Application(fileName: "anything.msi", signerSubject: "cn=contoso ltd", vendor: "CONTOSO")
        #expect(entry.matches(signed, as: .runAsAdmin))
        let other = ElevationRequest.Application(fileName: "anything.msi", signerSubject: "CN=Contoso Ltd", vendor: "Fabrikam")
        #expect(!entry.matches(other, as: .runAsAdmin))
        #expect(!entry.matches(ElevationRequest.Application(fileName: "anything.msi"), as: .runAsAdmin))
        #expect(!entry.matches(signed, as: .adminSession))
        // Any other protection without a file name matches nothing, even when built in code.
        let unnamed = Settings.PreApprovedApplication(fileName: nil, protection: .none)
        #expect(!unnamed.matches(signed, as: .runAsAdmin))
    }

    @Test(
        "a file name may be left out only for a certificate protection",
        arguments: [
            (#"{"type":"certificate","vendor":"Contoso"}"#, nil as String?),
            (#"{"type":"certificate","subject":"CN=Contoso"}"#, nil),
            (#"{"type":"none"}"#, "/pre_approved_applications/0/file_name"),
            (#"{"type":"checksum","sha256":"\#(String(repeating: "ab", count: 32))"}"#, "/pre_approved_applications/0/file_name"),
            (#"{"type":"path","path":"%ProgramFiles%\\Vendor"}"#, "/pre_approved_applications/0/file_name"),
            (#"{"type":"path","path":"%AppData%\\Vendor"}"#, "/pre_approved_applications/0/protection/path"),
        ] as [(String, String?)]
    )
    func fileNameOptional(protection: String, refusedAt: String?) throws {
        let document = #"{"schema_version":1,"pre_approved_applications":[{"kind":"application","applies_to":["run_as_admin"],"protection":\#(protection)}]}"#
        var pointers: [String] = []
        var decoded: Settings?
        do {
            decoded = try Settings.decode(from: Data(document.utf8))
        } catch {
            pointers = error.issues.map { $0.pointer.description }
        }
        if let refusedAt {
            #expect(pointers.contains(refusedAt), "\(pointers)")
        } else {
            let settings = try #require(decoded, "\(pointers)")
            #expect(settings.preApprovedApplications.first?.fileName == nil)
            // The document round-trips without a file name.
            #expect(try Settings.decode(from: settings.canonicalData) == settings)
        }
    }

    @Test("a location with a variable is stored as written and reads back the same")
    func variableRoundTrip() throws {
        let document = #"{"schema_version":1,"pre_approved_applications":[{"file_name":"app.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"path","path":"%programfiles(x86)%\\Vendor\\"}}]}"#
        let settings = try Settings.decode(from: Data(document.utf8))
        let text = String(decoding: settings.canonicalData, as: UTF8.self)
        #expect(text.contains(#""path":"%ProgramFiles(x86)%\\Vendor""#))
        #expect(try Settings.decode(from: settings.canonicalData) == settings)
    }
}
