"""``lineguard gauge``: calibrate a camera for dimensional gauging.

``calibrate`` reads views of a calibration board (checkerboard or ChArUco), one of them
showing the board lying on the part plane, writes the camera's calibration folder
(``calibration.json``, version one more than the folder held) and signs it with the
signing key store like a model package (``<folder>.sig``). It prints what the edge node
will trust: the reprojection error, the plane's residual and its scale.
"""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.signing_keys_cmd import load_signing_key, passphrase_options, store_options
from lineguard.contracts.errors import CalibrationError

__all__ = ["gauge"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@click.group()
def gauge() -> None:
    """Dimensional gauging: camera calibration (see docs/inspection.md)."""


def _read(path: Path) -> object:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        msg = f"{path} is not an image OpenCV can read"
        raise CalibrationError(msg)
    return image


@gauge.command("calibrate")
@click.option("--camera-id", required=True, help="The camera this calibration is for (edge.yaml camera_id).")
@click.option(
    "--images",
    "images_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of board views (10-20, tilted and moved across the field of view).",
)
@click.option(
    "--plane-image",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="One view with the board lying flat where the parts lie (defines millimetres).",
)
@click.option(
    "--board", type=click.Choice(["checkerboard", "charuco"]), default="checkerboard", show_default=True
)
@click.option(
    "--columns", type=int, required=True, help="Inner corners across (checkerboard) or squares (ChArUco)."
)
@click.option(
    "--rows", type=int, required=True, help="Inner corners down (checkerboard) or squares (ChArUco)."
)
@click.option("--square-mm", type=float, required=True, help="Side of one square, as printed (measure it).")
@click.option("--marker-mm", type=float, help="ChArUco: side of one marker.")
@click.option("--dictionary", default="DICT_5X5_100", show_default=True, help="ChArUco: ArUco dictionary.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Calibration folder to write (the signature goes beside it: OUT.sig).",
)
@store_options
@passphrase_options
@click.option("--key-id", help="Sign with this key instead of the active one.")
def calibrate_cmd(
    camera_id: str,
    images_dir: Path,
    plane_image: Path,
    board: str,
    columns: int,
    rows: int,
    square_mm: float,
    marker_mm: float | None,
    dictionary: str,
    out_dir: Path,
    store_dir: Path | None,
    config_path: Path | None,
    passphrase_file: Path | None,
    pin_env: str,
    key_id: str | None,
) -> None:
    """Calibrate a camera from board images and sign the result.

    \b
    Example:
      export LINEGUARD_SIGNING_PASSPHRASE="$(cat ~/.lineguard-signing-pass)"
      lineguard gauge calibrate --camera-id cam-bracket --images shots/ --plane-image shots/flat.png \\
          --columns 9 --rows 6 --square-mm 10 --out calib/cam-bracket --store ~/lineguard-signing
      calibrated cam-bracket version 3 from 14 views: reprojection error 0.12 px, part plane
      0.0151 mm/px (residual 0.004 mm) → calib/cam-bracket (signed: calib/cam-bracket.sig)
    """
    from lineguard.edge.gauging import BoardSpec, calibrate, next_version, write_calibration
    from lineguard.signing.sign import sign_folder

    spec = BoardSpec.model_validate(
        {
            "kind": board,
            "columns": columns,
            "rows": rows,
            "square_mm": square_mm,
            "marker_mm": marker_mm,
            "dictionary": dictionary,
        }
    )
    paths = sorted(
        p
        for p in images_dir.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.resolve() != plane_image.resolve()
    )
    views = [_read(p) for p in [*paths, plane_image]]
    key = load_signing_key(store_dir, config_path, passphrase_file, pin_env, key_id)  # fail before the work
    result = calibrate(views, spec, camera_id=camera_id, version=next_version(out_dir))  # type: ignore[arg-type]
    write_calibration(result, out_dir)
    signature, _ = sign_folder(out_dir, key)
    click.echo(
        f"calibrated {camera_id} version {result.version} from {result.views} views: reprojection error "
        f"{result.reprojection_error_px:.3f} px, part plane {result.mm_per_px:.5f} mm/px "
        f"(residual {result.plane_residual_mm:.4f} mm) → {out_dir} (signed: {signature})"
    )
    if result.reprojection_error_px > 0.5:
        click.echo(
            "warning: reprojection error above 0.5 px: check focus, board flatness and the square size"
        )
