import CharterAgent
import CharterBundle
import Foundation
import Testing

@Suite("Agent events")
struct AgentEventTests {
    @Test("ready carries the device id and the heartbeat, 15 s when absent")
    func ready() {
        #expect(
            ServerSentEvent(type: "ready", data: #"{"device_id":"d","heartbeat_seconds":20}"#).agentEvent
                == .ready(deviceID: "d", heartbeatSeconds: 20, bundlePushSeconds: nil)
        )
        #expect(
            ServerSentEvent(type: "ready", data: #"{"device_id":"d"}"#).agentEvent
                == .ready(deviceID: "d", heartbeatSeconds: 15, bundlePushSeconds: nil)
        )
    }

    @Test("ready announces pushed bundles with a positive wait; current_bundle needs all four members")
    func pushedBundles() {
        #expect(
            ServerSentEvent(type: "ready", data: #"{"device_id":"d","heartbeat_seconds":15,"bundle_push_seconds":10}"#).agentEvent
                == .ready(deviceID: "d", heartbeatSeconds: 15, bundlePushSeconds: 10)
        )
        #expect(
            ServerSentEvent(type: "ready", data: #"{"device_id":"d","bundle_push_seconds":0}"#).agentEvent
                == .ready(deviceID: "d", heartbeatSeconds: 15, bundlePushSeconds: nil)
        )
        let data = #"{"bundle":"a.b.c.d.e","etag":"\"3.1767225600\"","position":41,"version":3,"new":true}"#
        #expect(
            ServerSentEvent(type: "current_bundle", data: data).agentEvent
                == .currentBundle(PushedBundle(position: 41, version: 3, etag: #""3.1767225600""#, compact: "a.b.c.d.e"))
        )
        #expect(ServerSentEvent(type: "current_bundle", data: #"{"bundle":"a.b.c.d.e","position":41}"#).agentEvent == .other(type: "current_bundle"))
    }

    @Test("bundle hints decode with or without a reason; extra members are ignored")
    func bundle() {
        #expect(ServerSentEvent(type: "bundle", data: #"{"reason":"directory","x":1}"#).agentEvent == .bundle(reason: "directory"))
        #expect(ServerSentEvent(type: "bundle", data: "{}").agentEvent == .bundle(reason: ""))
        #expect(ServerSentEvent(type: "bundle", data: "not json").agentEvent == .bundle(reason: ""))
    }

    @Test("decisions need a request id and a status")
    func decision() {
        #expect(
            ServerSentEvent(type: "decision", data: #"{"request_id":"r1","status":"denied"}"#).agentEvent
                == .decision(requestID: "r1", status: "denied")
        )
        #expect(ServerSentEvent(type: "decision", data: #"{"request_id":"r1"}"#).agentEvent == .other(type: "decision"))
    }

    @Test("unknown event names and plain messages are other events")
    func unknown() {
        #expect(ServerSentEvent(type: "policy_v2", data: "{}").agentEvent == .other(type: "policy_v2"))
        #expect(ServerSentEvent(data: "hello").agentEvent == .other(type: "message"))
    }

    @Test("a long-poll answer decodes into the same hints")
    func poll() throws {
        let json = #"{"events":[{"id":"1040","event":"bundle","data":{"reason":"policy"}}],"last_event_id":"1040","more":true}"#
        let poll = try JSONDecoder().decode(EventPoll.self, from: Data(json.utf8))
        #expect(poll.lastEventID == "1040")
        #expect(poll.events.map(\.agentEvent) == [.bundle(reason: "policy")])
        #expect(poll.events.first?.id == "1040")
    }

    @Test("positions are decimal ids")
    func positions() {
        #expect(ServerSentEvent(data: "x", lastEventID: "1031").position == 1031)
        #expect(ServerSentEvent(data: "x", lastEventID: "").position == nil)
        #expect(ServerSentEvent(data: "x", lastEventID: "abc").position == nil)
    }
}
