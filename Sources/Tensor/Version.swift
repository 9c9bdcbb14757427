public let phosphorVersion = "0.1.0"
