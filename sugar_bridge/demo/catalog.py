"""The seed company's catalogue and the name lists the demo generator draws from.

Data, not logic: a high-end hardware reseller's article types (flat screens, in-car video,
communication tools, accessories, services), with SKUs, brands and list prices in EUR, and the
add-ons that usually go with a main article (a wall mount with a screen, fitting with a car kit).
"""

from __future__ import annotations

from dataclasses import dataclass

FLAT_SCREENS = "Flat screens"
IN_CAR_VIDEO = "In-car video"
COMMUNICATION = "Communication tools"
ACCESSORIES = "Accessories"
SERVICES = "Services"

CATEGORIES: tuple[str, ...] = (FLAT_SCREENS, IN_CAR_VIDEO, COMMUNICATION, ACCESSORIES, SERVICES)
MAIN_CATEGORIES: tuple[str, ...] = (FLAT_SCREENS, IN_CAR_VIDEO, COMMUNICATION)


@dataclass(frozen=True)
class Product:
    """One article of the catalogue."""

    sku: str
    name: str
    category: str
    brand: str
    price: float  # list price in EUR, VAT excluded


def _p(sku: str, brand: str, model: str, category: str, price: float) -> Product:
    return Product(sku=sku, name=f"{brand} {model}", category=category, brand=brand, price=price)


CATALOG: tuple[Product, ...] = (
    # --- flat screens ----------------------------------------------------------------------
    _p("TV-SAM-QN55", "Samsung", 'QN90D 55" Neo QLED', FLAT_SCREENS, 1299.00),
    _p("TV-SAM-QN65", "Samsung", 'QN90D 65" Neo QLED', FLAT_SCREENS, 1799.00),
    _p("TV-SAM-QN85", "Samsung", 'QN900D 85" 8K Neo QLED', FLAT_SCREENS, 5999.00),
    _p("TV-LG-C4-55", "LG", 'OLED55C4 55" OLED evo', FLAT_SCREENS, 1399.00),
    _p("TV-LG-G4-65", "LG", 'OLED65G4 65" OLED evo Gallery', FLAT_SCREENS, 2999.00),
    _p("TV-LG-M4-77", "LG", 'OLED77M4 77" wireless OLED', FLAT_SCREENS, 4499.00),
    _p("TV-SNY-A95L", "Sony", 'Bravia XR A95L 65" QD-OLED', FLAT_SCREENS, 3499.00),
    _p("TV-SNY-X90L", "Sony", 'Bravia XR X90L 55" Full Array LED', FLAT_SCREENS, 1099.00),
    _p("TV-PAN-Z95", "Panasonic", 'TX-65Z95A 65" OLED', FLAT_SCREENS, 3299.00),
    _p("TV-PHI-OLED", "Philips", '55OLED909 55" Ambilight', FLAT_SCREENS, 1899.00),
    _p("PRO-SAM-QM75", "Samsung", 'QM75C 75" professional display', FLAT_SCREENS, 2490.00),
    _p("PRO-LG-VW55", "LG", '55VM5J 55" video-wall panel', FLAT_SCREENS, 3150.00),
    # --- in-car video ----------------------------------------------------------------------
    _p("CAR-ALP-ILX", "Alpine", 'iLX-F115D 11" Halo multimedia', IN_CAR_VIDEO, 1149.00),
    _p("CAR-ALP-RSE", "Alpine", 'PKG-RSE3HDMI rear-seat 10.1" screen', IN_CAR_VIDEO, 899.00),
    _p("CAR-PIO-Z8", "Pioneer", 'AVIC-Z1000DAB 9" navigation', IN_CAR_VIDEO, 1299.00),
    _p("CAR-PIO-W6", "Pioneer", 'SPH-EVO64DAB 6.8" CarPlay', IN_CAR_VIDEO, 549.00),
    _p("CAR-KEN-DMX", "Kenwood", 'DMX9720XDS 10.1" receiver', IN_CAR_VIDEO, 999.00),
    _p("CAR-KEN-DRV", "Kenwood", "DRV-A601W 4K dashcam", IN_CAR_VIDEO, 269.00),
    _p("CAR-GAR-DC67", "Garmin", "Dash Cam 67W", IN_CAR_VIDEO, 249.00),
    _p("CAR-BLA-HEAD", "Blaupunkt", 'Vienna 790 DAB 7" head-unit', IN_CAR_VIDEO, 379.00),
    _p(
        "CAR-ZEN-RVS", "Zenec", "Z-E3766 fleet multimedia + reversing camera", IN_CAR_VIDEO, 1590.00
    ),
    # --- communication tools ---------------------------------------------------------------
    _p("COM-JAB-EV2", "Jabra", "Evolve2 85 headset", COMMUNICATION, 379.00),
    _p("COM-JAB-PAN", "Jabra", "PanaCast 50 video bar", COMMUNICATION, 1199.00),
    _p("COM-POL-S60", "Poly", "Sync 60 speakerphone", COMMUNICATION, 329.00),
    _p("COM-POL-X50", "Poly", "Studio X50 video bar", COMMUNICATION, 2490.00),
    _p("COM-LOG-RAL", "Logitech", "Rally Bar conference system", COMMUNICATION, 3790.00),
    _p("COM-LOG-MTS", "Logitech", "Zone Wireless 2 headset", COMMUNICATION, 279.00),
    _p("COM-YEA-T54", "Yealink", "SIP-T54W desk phone", COMMUNICATION, 249.00),
    _p("COM-YEA-W76", "Yealink", "W76P DECT phone system", COMMUNICATION, 189.00),
    _p("COM-CIS-RM", "Cisco", "Webex Room Kit Mini", COMMUNICATION, 2890.00),
    _p("COM-MOT-R7", "Motorola", "MOTOTRBO R7 two-way radio", COMMUNICATION, 749.00),
    # --- accessories -----------------------------------------------------------------------
    _p("ACC-VOG-WM", "Vogel's", "WALL 3345 motion wall mount", ACCESSORIES, 189.00),
    _p("ACC-VOG-FL", "Vogel's", "TVM 1845 full-motion mount", ACCESSORIES, 349.00),
    _p("ACC-SON-ARC", "Sonos", "Arc Ultra soundbar", ACCESSORIES, 999.00),
    _p("ACC-SAM-SB", "Samsung", "HW-Q990D soundbar", ACCESSORIES, 1199.00),
    _p("ACC-HDMI-21", "Hama", "HDMI 2.1 ultra-high-speed cable 3 m", ACCESSORIES, 39.90),
    _p("ACC-APC-UPS", "APC", "Back-UPS Pro 900", ACCESSORIES, 229.00),
    _p("ACC-CAR-CAM", "Alpine", "HCE-C1100 reversing camera", ACCESSORIES, 189.00),
    _p("ACC-CAR-ADP", "Connects2", "steering-wheel control adapter", ACCESSORIES, 79.90),
    _p("ACC-BAT-PK", "Motorola", "PMNN4491 battery pack", ACCESSORIES, 69.00),
    _p("ACC-CLN-KIT", "Hama", "screen cleaning kit", ACCESSORIES, 14.90),
    # --- services --------------------------------------------------------------------------
    _p("SRV-INST-TV", "Service", "on-site TV installation and set-up", SERVICES, 149.00),
    _p("SRV-CAL-ISF", "Service", "ISF picture calibration", SERVICES, 290.00),
    _p("SRV-INST-CAR", "Service", "in-car system fitting (workshop)", SERVICES, 249.00),
    _p("SRV-WAR-3Y", "Service", "3-year extended warranty", SERVICES, 199.00),
    _p("SRV-WAR-5Y", "Service", "5-year extended warranty", SERVICES, 349.00),
    _p("SRV-UC-SETUP", "Service", "meeting-room set-up and training (day)", SERVICES, 890.00),
    _p("SRV-MAINT-Y", "Service", "annual maintenance contract", SERVICES, 1200.00),
)

# Which add-on categories follow a main article into the basket, and how often.
ADD_ONS: dict[str, tuple[tuple[str, float], ...]] = {
    FLAT_SCREENS: (("ACC-VOG-WM", 0.25), ("ACC-HDMI-21", 0.30), ("SRV-INST-TV", 0.25),
                   ("SRV-WAR-5Y", 0.15), ("ACC-SON-ARC", 0.08), ("SRV-CAL-ISF", 0.05)),
    IN_CAR_VIDEO: (("SRV-INST-CAR", 0.55), ("ACC-CAR-CAM", 0.25), ("ACC-CAR-ADP", 0.30),
                   ("SRV-WAR-3Y", 0.10)),
    COMMUNICATION: (("SRV-UC-SETUP", 0.12), ("ACC-BAT-PK", 0.10), ("SRV-WAR-3Y", 0.08)),
}  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Claire", "Anne",
    "Sophie", "Nathalie", "Isabelle", "Céline", "Hélène", "Élodie", "Amélie", "Margaux", "Zoé",
    "Lucas", "Hugo", "Louis", "Thomas", "Nicolas", "Julien", "Pierre", "Antoine", "Maxime",
    "Alexandre", "Mathieu", "François", "Jérôme", "Laurent", "Olivier", "Stéphane", "Karim",
    "Mehdi", "Yanis", "Noah", "Gabriel", "Sean", "Siobhan", "Jan", "Lena", "Marco", "Giulia",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
    "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin",
    "Müller", "Peeters", "Janssens", "Rossi", "O'Brien", "N'Diaye", "Da Silva", "Benali",
)  # fmt: skip

# Small business customers (B2B, not key accounts): installers, hotels, taxi firms, schools.
BUSINESS_STEMS: tuple[str, ...] = (
    "Hôtel du Parc {city}", "Garage {last}", "Taxis {city}", "Cabinet {last} & Associés",
    "Clinique {city} Sud", "Auto-école {last}", "Brasserie {last}", "Pharmacie {last}",
    "Lycée {last}", "{last} Installations", "Ambulances {city}", "Transports {last}",
    "Agence {city} Immobilier", "Salle des fêtes de {city}", "{last} Sécurité",
)  # fmt: skip

BUSINESS_SUFFIXES: tuple[str, ...] = ("SARL", "SAS", "EURL", "SA", "")

CITIES: tuple[str, ...] = (
    "Lyon", "Paris", "Marseille", "Lille", "Nantes", "Bordeaux", "Toulouse", "Strasbourg",
    "Rennes", "Grenoble", "Nice", "Dijon", "Bruxelles", "Liège", "Genève", "Luxembourg",
)  # fmt: skip

EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "orange.fr", "free.fr", "laposte.net", "outlook.fr", "sfr.fr", "yahoo.fr",
    "proton.me", "icloud.com", "skynet.be", "bluewin.ch",
)  # fmt: skip

COUNTRY_OF_CITY: dict[str, str] = {  # cities not listed are in France
    "Bruxelles": "Belgium",
    "Liège": "Belgium",
    "Genève": "Switzerland",
    "Luxembourg": "Luxembourg",
}
