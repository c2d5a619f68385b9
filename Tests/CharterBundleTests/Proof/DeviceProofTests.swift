import CharterBundle
import Foundation
import Testing

/// The byte strings of docs/agent-protocol.md that a device signs: an agent in another language must build
/// exactly these.
@Suite("Device proof messages")
struct DeviceProofTests {
    static let deviceID = "3F1D0C9A-7B2E-4C5D-8E9F-0A1B2C3D4E5F"
    static let nonce = "q4Xv2zJ0m8lRk3Wn5Yt7Uo9Ip1As3Df5Gh7Jk9Lz0Xc"

    @Test(
        "each message is its purpose line and values joined by LF, the device id in lower case, no trailing LF",
        arguments: [
            (
                DeviceProof.renewalMessage(nonce: nonce, deviceID: deviceID),
                "charter-agent-token-v1\nq4Xv2zJ0m8lRk3Wn5Yt7Uo9Ip1As3Df5Gh7Jk9Lz0Xc\n3f1d0c9a-7b2e-4c5d-8e9f-0a1b2c3d4e5f"
            ),
            (
                DeviceProof.reenrollmentMessage(
                    nonce: nonce, deviceID: deviceID, encryptionKey: Data(repeating: 0xff, count: 32),
                    signingKey: Data(0..<32)
                ),
                "charter-agent-reenroll-v1\nq4Xv2zJ0m8lRk3Wn5Yt7Uo9Ip1As3Df5Gh7Jk9Lz0Xc\n3f1d0c9a-7b2e-4c5d-8e9f-0a1b2c3d4e5f\n"
                    + "__________________________________________8\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
            ),
        ]
    )
    func messages(message: Data, expected: String) {
        #expect(String(decoding: message, as: UTF8.self) == expected)
    }
}
