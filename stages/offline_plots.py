"""`python -m stages.offline_plots`: write the HTML template that `dvc plots show/diff` fill (`plots.html_template`
in .dvc/config), with Vega, Vega-Lite and Vega-Embed inlined, so the pages render with no network.

DVC's own page loads those libraries from a CDN, so offline its charts stay blank. The template is
committed (`.dvc/plots/offline.html`); this command rewrites it, e.g. for another Vega-Lite version. It
needs `vl-convert-python` (`pip install -e ".[plots]"`), whose `javascript_bundle` is the three libraries
in one classic script that sets `window.vegaEmbed`, which DVC's plot snippets call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stages.outputs import stage, write_text
from stages.options import run

app = typer.Typer(add_completion=False)

TEMPLATE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- Vega, Vega-Lite and Vega-Embed, inlined by `python -m stages.offline_plots` (vl-convert-python {version}):
         this page needs no network. DVC's CDN script tags are left out on purpose. -->
    <script>
BUNDLE
    </script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def offline_template(bundle: str, version: str) -> str:
    """The page with `bundle` inlined in a classic <script>. '</script' inside the bundle is escaped so the
    HTML parser does not end the element early; DVC fills {plot_divs} and {refresh_tag} by plain
    replacement, so the bundle's own braces are safe."""
    safe = bundle.replace("</script", "<\\/script")
    return TEMPLATE.replace("{version}", version).replace("BUNDLE", safe)


@app.command()
@stage
def main(
    out: Annotated[Path, typer.Option(help="Template to write (.dvc/config's plots.html_template, relative to .dvc/).")] = Path(".dvc/plots/offline.html"),
) -> None:
    """Write the offline DVC plots template with the JavaScript libraries inlined."""
    try:
        import vl_convert
    except ImportError:
        raise typer.BadParameter("needs vl-convert-python: pip install -e '.[plots]'") from None
    write_text(out, offline_template(vl_convert.javascript_bundle(), getattr(vl_convert, "__version__", "?")))


if __name__ == "__main__":
    run(app)
