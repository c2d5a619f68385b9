import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// One open connection to an SMTP server, as ``SMTPClient`` uses it: a line out, a reply back, each step bounded
/// by the timeout (a step that overruns it closes the connection and fails with ``SMTPError/timedOut(step:)``).
struct SMTPConnection {
    let channel: any Channel
    var replies: NIOAsyncChannelInboundStream<SMTPReply>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let timeout: TimeAmount

    /// Sends `line` and CRLF, and reads the reply.
    ///
    /// - Parameter step: What the command is, for errors; never the line itself, which may carry credentials.
    mutating func command(_ line: String, step: String) async throws -> SMTPReply {
        do {
            try await write(ByteBuffer(string: line + "\r\n"), step: step)
        } catch SMTPError.closed {
            // The connection closed under the write: what is left to read says why (a TLS alert, a 421 reply).
            return try await reply(to: step)
        }
        return try await reply(to: step)
    }

    /// Reads the next reply.
    mutating func reply(to step: String) async throws -> SMTPReply {
        let deadline = Deadline(timeout, closing: channel)
        defer { deadline.cancel() }
        do {
            if let reply = try await replies.next(isolation: #isolation) { return reply }
        } catch {
            throw deadline.hasExpired ? .timedOut(step: step) : SMTPError(error, during: step)
        }
        throw deadline.hasExpired ? SMTPError.timedOut(step: step) : .closed(step: step)
    }

    /// Writes `bytes` as they are.
    func write(_ bytes: ByteBuffer, step: String) async throws {
        let deadline = Deadline(timeout, closing: channel)
        defer { deadline.cancel() }
        do {
            try await outbound.write(bytes)
        } catch {
            throw deadline.hasExpired ? .timedOut(step: step) : SMTPError(error, during: step)
        }
    }
}

/// Closes a channel when a step overruns its time, and remembers that it did.
private struct Deadline {
    private let expired = NIOLockedValueBox(false)
    private let timer: Scheduled<Void>

    init(_ timeout: TimeAmount, closing channel: any Channel) {
        let expired = expired
        timer = channel.eventLoop.scheduleTask(in: timeout) {
            expired.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
    }

    var hasExpired: Bool { expired.withLockedValue { $0 } }

    func cancel() {
        timer.cancel()
    }
}

extension SMTPError {
    /// The SMTP error for a failure of the connection while `step` ran: TLS errors as ``tls(_:)``, an error of
    /// the reply handler as it is, anything else as ``closed(step:)``.
    init(_ error: any Error, during step: String) {
        switch error {
        case let error as SMTPError: self = error
        case let error as NIOSSLError: self = .tls(String(describing: error))
        case let error as NIOSSLExtraError: self = .tls(String(describing: error))
        default: self = .closed(step: step)
        }
    }
}
