"""PDF files for tests and benchmarks, written by hand so nothing needs a PDF library
that could hide what the parser really gets."""

from __future__ import annotations

import io


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(
    pages: list[list[str]],
    *,
    info: dict[str, str] | None = None,
    font_size: int = 12,
    leading: int = 14,
    origin: tuple[int, int] = (72, 720),
) -> bytes:
    """A minimal valid PDF: one text line per entry of each page, Helvetica of
    ``font_size`` points ``leading`` apart from ``origin`` (x, y) down, ``info`` as its
    document information (/Title, /Author...), correct xref offsets."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [{kids}] /Count {count} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    page_numbers = []
    for lines in pages:
        shows = " ".join(f"{_pdf_string(line)} Tj T*" for line in lines)
        content = f"BT /F1 {font_size} Tf {leading} TL {origin[0]} {origin[1]} Td {shows} ET"
        page_numbers.append(len(objects) + 1)
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {len(objects) + 2} 0 R >>"
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    kids = " ".join(f"{number} 0 R" for number in page_numbers)
    objects[1] = objects[1].format(kids=kids, count=len(pages))
    trailer_info = ""
    if info:
        entries = " ".join(f"/{key} {_pdf_string(value)}" for key, value in info.items())
        objects.append(f"<< {entries} >>")
        trailer_info = f" /Info {len(objects)} 0 R"

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{trailer_info} >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()
