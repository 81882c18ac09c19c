"""QR codes and printable posters for survey links."""
