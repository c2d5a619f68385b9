import CharterCore
import Testing

@Suite("Windows paths")
struct WindowsPathTests {
    @Test(
        "paths normalise to one form",
        arguments: [
            (#"C:\Program Files\Vendor"#, #"C:\Program Files\Vendor"#),
            (#"c:/program files//vendor/"#, #"C:\program files\vendor"#),
            (#"C:\Program Files\.\Vendor\..\Other"#, #"C:\Program Files\Other"#),
            (#"C:\Tools.\app.exe "#, #"C:\Tools\app.exe"#),
            (#"\\?\C:\Tools\app.exe"#, #"C:\Tools\app.exe"#),
            (#"\\.\C:\Tools"#, #"C:\Tools"#),
            (#"\\?\UNC\fileserver\apps\x.exe"#, #"\\fileserver\apps\x.exe"#),
            (#"\\fileserver\apps\sub\..\x.exe"#, #"\\fileserver\apps\x.exe"#),
            (#"//fileserver/apps"#, #"\\fileserver\apps"#),
            (#"C:"#, #"C:\"#),
            (#"C:\"#, #"C:\"#),
        ]
    )
    func normalises(text: String, expected: String) throws {
        #expect(try #require(WindowsPath(text)).description == expected)
    }

    @Test(
        "relative, escaping and malformed paths do not parse",
        arguments: [
            #"Program Files\Vendor"#, #"\Program Files"#, #"C:Vendor"#, #"C:\..\Windows"#, #"C:\a\..\..\b"#,
            #"\\server"#, #"\\server\..\x"#, #"C:\Tools\app.exe:stream"#, #"C:\Tools\a*b.exe"#, "", #"1:\x"#,
            #"C:\Tools\..."#,
        ]
    )
    func rejects(text: String) {
        #expect(WindowsPath(text) == nil)
    }

    @Test(
        "a path is under a location only at a component boundary, ignoring case",
        arguments: [
            (#"C:\Program Files\Vendor\app.exe"#, #"C:\Program Files\Vendor"#, true),
            (#"c:\PROGRAM FILES\vendor\bin\app.exe"#, #"C:\Program Files\Vendor"#, true),
            (#"C:\Program Files\Vendor"#, #"C:\Program Files\Vendor"#, true),
            (#"C:\Program Files\VendorEvil\app.exe"#, #"C:\Program Files\Vendor"#, false),
            (#"C:\Program Files\Vendor\..\Evil\app.exe"#, #"C:\Program Files\Vendor"#, false),
            (#"C:\Program Files\Vendor\..\Vendor\app.exe"#, #"C:\Program Files\Vendor"#, true),
            (#"D:\Program Files\Vendor\app.exe"#, #"C:\Program Files\Vendor"#, false),
            (#"C:\Program Files\app.exe"#, #"C:\Program Files\Vendor"#, false),
            (#"\\?\C:\Program Files\Vendor\app.exe"#, #"C:\Program Files\Vendor"#, true),
            (#"\\FILESERVER\Apps\x.exe"#, #"\\fileserver\apps"#, true),
            (#"\\fileserver\apps2\x.exe"#, #"\\fileserver\apps"#, false),
            (#"\\other\apps\x.exe"#, #"\\fileserver\apps"#, false),
            (#"C:\apps\x.exe"#, #"\\fileserver\apps"#, false),
        ]
    )
    func located(path: String, location: String, expected: Bool) throws {
        let path = try #require(WindowsPath(path))
        let location = try #require(WindowsPath(location))
        #expect(path.isLocated(under: location) == expected)
    }
}
