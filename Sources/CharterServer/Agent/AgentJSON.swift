import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// Strict JSON bodies for the hand-written agent routes: unknown members are refused and every decoding
/// failure becomes a 400 naming the field (through ``ProblemMiddleware``).
enum AgentJSON {
    static func decode<Body: Decodable>(_ type: Body.Type, from request: Request, maximumBytes: Int) async throws -> Body {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBytes)
        } catch {
            throw Problem(.payloadTooLarge, "The request body is larger than \(maximumBytes) bytes.")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.date(from: text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "Expected an RFC 3339 date-time such as 2026-11-29T10:15:02Z."
                )
            }
            return date
        }
        return try decoder.decode(Body.self, from: buffer)
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value)))
        )
    }
}

/// RFC 3339 date-times, with or without fractional seconds.
enum RFC3339 {
    static func date(from text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
