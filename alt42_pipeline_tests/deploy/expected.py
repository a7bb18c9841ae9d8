"""What every Kubernetes manifest and configuration must satisfy, shared by the tests."""

#: The oldest Kubernetes minor version the manifests must be valid for.
KUBERNETES_VERSION = "1.29"

#: Secrets every run needs (settings.py reads them as ALT42_* environment variables).
REQUIRED_SECRETS = {"alt42-warehouse", "alt42-sources", "alt42-irt-service"}

#: The ConfigMap with the non-secret settings.
SETTINGS_CONFIG_MAP = "alt42-settings"
