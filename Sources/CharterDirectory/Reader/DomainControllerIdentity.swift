package import Foundation

/// Which domain controller answered, and where its update sequence stood before a read began.
///
/// A watermark is only meaningful on the DC that issued it: USNs are per DC, and a DC restored
/// from backup gets a new `invocationId`, so both are stored with the watermark.
package struct DomainControllerIdentity: Sendable, Hashable {
    /// The rootDSE's `dsServiceName`: the DN of the DC's NTDS Settings object.
    package var serviceName: String
    /// The NTDS Settings object's `invocationId`.
    package var invocationID: UUID
    /// The rootDSE's `highestCommittedUSN`, read before the search began.
    package var highestCommittedUSN: Int64
    /// The rootDSE's `defaultNamingContext`, e.g. `DC=example,DC=com`.
    package var defaultNamingContext: String
    /// The rootDSE's `dnsHostName`.
    package var dnsHostName: String?
    /// The domain's SID (the domain root's `objectSid`): primary groups are this SID plus `primaryGroupID`.
    package var domainSID: SecurityIdentifier?

    package init(
        serviceName: String, invocationID: UUID, highestCommittedUSN: Int64, defaultNamingContext: String,
        dnsHostName: String? = nil, domainSID: SecurityIdentifier? = nil
    ) {
        self.serviceName = serviceName
        self.invocationID = invocationID
        self.highestCommittedUSN = highestCommittedUSN
        self.defaultNamingContext = defaultNamingContext
        self.dnsHostName = dnsHostName
        self.domainSID = domainSID
    }

    /// The watermark a later incremental read continues from.
    package var watermark: DirectoryWatermark {
        DirectoryWatermark(serviceName: serviceName, invocationID: invocationID, usn: highestCommittedUSN)
    }
}

/// Where the last read stopped: the DC (by `dsServiceName` and `invocationId`) and its USN.
package struct DirectoryWatermark: Sendable, Hashable {
    package var serviceName: String
    package var invocationID: UUID
    package var usn: Int64

    package init(serviceName: String, invocationID: UUID, usn: Int64) {
        self.serviceName = serviceName
        self.invocationID = invocationID
        self.usn = usn
    }

    /// Why this watermark cannot be continued on the DC `identity` describes, or `nil` when it can.
    package func fullSyncReason(on identity: DomainControllerIdentity) -> String? {
        let sameServer =
            (try? DistinguishedName(serviceName)) == (try? DistinguishedName(identity.serviceName))
        if !sameServer {
            return "the directory answered from another domain controller (\(identity.serviceName), was \(serviceName))"
        }
        if invocationID != identity.invocationID {
            return "the domain controller's invocationId changed (restored from backup?)"
        }
        if identity.highestCommittedUSN < usn {
            let current = identity.highestCommittedUSN
            return "the domain controller's highestCommittedUSN \(current) is below the watermark \(usn)"
        }
        return nil
    }
}
