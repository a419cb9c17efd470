/// Archway's version, as `archway --version` prints it and `telemetry.sdk.version` names it.
public enum ArchwayVersion {
    public static let current = "0.1.0"
}
