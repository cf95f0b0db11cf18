"""Identity: parties, KYC levels, roles, customer accounts, credentials and consents."""
