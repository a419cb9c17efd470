#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Wall-clock seconds since 1970, for the `created` fields of the wire formats.
public func currentUnixSeconds() -> Int {
    Int(Date().timeIntervalSince1970)
}
