/// The endpoint-agent side of the Charter protocol (docs/agent-protocol.md).
public enum CharterAgent {}
