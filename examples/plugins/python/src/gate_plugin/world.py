"""The component's exports: ``describe`` and ``run`` in the types
componentize-py generates from ``wit/gate-plugin.wit``."""


def make(plugin):
    import wit_world
    from wit_world.imports import types

    def param_info(p):
        return types.ParamInfo(
            name=p.name,
            kind=p.kind,
            required=p.required,
            description=p.description,
            default=p.default_toml(),
        )

    def check_info(c):
        return types.CheckInfo(
            id=c.id,
            title=c.title,
            description=c.description,
            default_severity=types.Severity[c.severity.upper()],
            params=[param_info(p) for p in c.params],
            capabilities=list(c.capabilities),
        )

    def finding(f):
        location = None
        if f.location is not None:
            location = types.Location(file=f.location.file, line=f.location.line, column=f.location.column)
        return types.Finding(
            check=f.check,
            rule=f.rule,
            subject=f.subject,
            status=types.Status[f.status.upper()],
            severity=None if f.severity is None else types.Severity[f.severity.upper()],
            message=f.message,
            evidence=list(f.evidence),
            remediation=f.remediation,
            location=location,
        )

    class WitWorld(wit_world.WitWorld):
        def describe(self):
            return types.PluginInfo(
                id=plugin.id,
                version=plugin.version,
                description=plugin.description,
                checks=[check_info(c) for c in plugin.checks],
            )

        def run(self, request):
            return [finding(f) for f in plugin.run(request.check, request.params, request.cwd)]

    return WitWorld
