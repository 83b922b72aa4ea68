"""Static files storage for production: whitenoise's compressed, fingerprinted files."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns):
    """Django's hashed-name patterns minus the ``sourceMappingURL`` ones."""
    kept = []
    for extension, rules in patterns:
        rules = tuple(
            rule
            for rule in rules
            if "sourceMappingURL" not in (rule[0] if isinstance(rule, tuple) else rule)
        )
        kept.append((extension, rules))
    return tuple(kept)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """The vendored bundles end with ``sourceMappingURL`` comments, but their ``.map``
    files are left out on purpose (static/vendor/README.md), so collectstatic must
    not try to fingerprint them: a browser's developer tools report the map missing
    and nothing else notices."""

    patterns = _without_source_maps(CompressedManifestStaticFilesStorage.patterns)
