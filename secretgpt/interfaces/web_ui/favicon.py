"""The browser tab's icon: a shield with a lock, drawn (an emoji such as 🔒 needs an emoji font,
and shows as a box without one)."""

from __future__ import annotations

# Quasar's primary blue, a white padlock; Material's shield outline (24×24).
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
    '<path fill="#1976d2" d="M12 1 3 5v6c0 5.55 3.84 10.74 9 12 5.16-1.26 9-6.45 9-12V5z"/>'
    '<path fill="#fff" fill-rule="evenodd" d="M9 11V9.5a3 3 0 0 1 6 0V11h.5a.5.5 0 0 1 .5.5v4a.5.5 0 0 1-.5.5h-7'
    'a.5.5 0 0 1-.5-.5v-4a.5.5 0 0 1 .5-.5zm1.5 0h3V9.5a1.5 1.5 0 0 0-3 0z"/>'
    '</svg>'
)
