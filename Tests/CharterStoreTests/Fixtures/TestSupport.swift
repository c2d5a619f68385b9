// The shared fixtures (TestDatabase, TestDirectory, SplitMix64, ChildProcess, …), visible in every file of this
// target, as the fixtures that lived here were.
@_exported import CharterTestSupport
