#!/usr/bin/env python3
"""Build carbonledger's bundled grid-intensity table from the reference data.

    python scripts/build_intensity_tables.py /work/shared/data            # write the table
    python scripts/build_intensity_tables.py /work/shared/data --check    # compare, exit 1 if stale

Reads (paths under the data folder; units and licences in its README):

- ``grid/countries/global_energy_mix.json``: countries (ISO-3 keys), ``carbon_intensity`` in
  gCO2e/kWh, lifecycle, Ember/Our World in Data via CodeCarbon (MIT; data CC BY 4.0);
- ``grid/countries/usa_states_egrid2016_lbs_per_mwh.json``: US states, eGRID 2016, lbs/MWh
  (direct emissions), converted with :func:`carbonledger.units.lbs_per_mwh_to_g_per_kwh`;
- ``grid/countries/carbon_intensity_per_source.json``: the world average (IEA, 475 g/kWh);
- ``grid/cloud/gcp_region_carbon_YYYY.csv``: Google Cloud regions (Apache-2.0); the latest
  year of each region is kept; basis lifecycle before 2021, operational (direct) from 2021;
- ``grid/cloud/ccf_grid_emissions_factors_{aws,azure,gcp}.csv``: Cloud Carbon Footprint
  (Apache-2.0), metric t CO2e/kWh, converted with ``tonnes_per_kwh_to_g_per_kwh``;
- ``grid/cloud/mlco2_impact_regions.csv``: ML CO2 Impact calculator regions (MIT).

Writes ``src/carbonledger/data/grid_intensity.csv`` (or ``--output``), one row per zone,
sorted (world, countries, US states, cloud regions; then by key), and prints a report of
every value it fixed, every row it rejected and every alias it dropped. Re-running it on the
same data writes the same bytes. The rules are documented in docs/methodology/intensity.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from carbonledger.intensity.bundled import COLUMNS
from carbonledger.intensity.zones import cloud_key, fold_name
from carbonledger.units import lbs_per_mwh_to_g_per_kwh, tonnes_per_kwh_to_g_per_kwh

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "src" / "carbonledger" / "data" / "grid_intensity.csv"

# -- uncertainty rule ------------------------------------------------------------------
# Relative uncertainty of an annual average used as a zone's intensity: 0.15 for data from
# FRESH_YEAR or later, plus 0.03 for each year older (grids drift a few per cent a year),
# capped at 0.40; undated figures (ML CO2 Impact) get 0.30. See the methodology page.
BASE_UNCERTAINTY_REL = 0.15
FRESH_YEAR = 2021
DRIFT_PER_YEAR_REL = 0.03
MAX_UNCERTAINTY_REL = 0.40
UNDATED_UNCERTAINTY_REL = 0.30

# -- Cloud Carbon Footprint -------------------------------------------------------------
# CCF publishes no year per row; the year is that of the dataset edition CCF's methodology
# cites for the row's source (CCF docs, grid emissions factors appendix), and the basis is
# that of the dataset: eGRID, EEA, carbonfootprint.com and EMA report generation (direct)
# emissions; the "Google" rows are Google's 2019 lifecycle figures (identical to
# gcp_region_carbon_2019.csv).
CCF_SOURCES: dict[str, tuple[str, int, str]] = {
    # Source column: (citation, data year, basis)
    "EPA": ("US EPA eGRID2019 NERC region", 2019, "direct"),
    "EEA": ("EEA CO2 intensity of electricity generation", 2019, "direct"),
    "carbonfootprint.com": ("carbonfootprint.com 2020 country factors", 2020, "direct"),
    "EMA Singapore": ("EMA Singapore grid emission factor", 2019, "direct"),
    "Google": ("Google Cloud 2019", 2019, "lifecycle"),
}
# Largest plausible grid factor: 2000 gCO2e/kWh = 0.002 t/kWh (the dirtiest grids are near
# 1000-1100). A value above it is in the wrong unit or misread.
CCF_MAX_T_PER_KWH = 0.002
_CCF_DECIMAL = re.compile(r"(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+")
# The Azure file holds values such as "000077": digits only, a leading zero, no decimal
# point. Every well-formed factor in these files is written "0.000ddd…", so such a value
# is read as "0." + text ("000077" → 0.000077 t/kWh = 77 g/kWh), and the row is reported.
_CCF_DROPPED_POINT = re.compile(r"0\d+")

PROVIDER_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud"}
# Cloud precedence: Google's own yearly region data > Cloud Carbon Footprint > ML CO2 Impact.
RANK_PROVIDER, RANK_CCF, RANK_MLCO2 = 0, 1, 2

KIND_ORDER = {"world": 0, "country": 1, "us-state": 2, "cloud": 3}

# Spellings beyond ISO's own names (folded and de-duplicated before use).
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "GB": ("UK", "Great Britain", "Britain"),
    "US": ("USA", "United States of America", "America"),
    "KR": ("Korea", "Republic of Korea"),
    "KP": ("DPRK",),
    "CZ": ("Czech Republic",),
    "CI": ("Ivory Coast",),
    "TR": ("Turkey",),
    "RU": ("Russia",),
    "NL": ("Holland",),
    "CD": ("DR Congo", "DRC", "Congo-Kinshasa"),
    "CG": ("Republic of the Congo", "Congo-Brazzaville"),
    "MK": ("Macedonia",),
    "SZ": ("Swaziland",),
    "CV": ("Cabo Verde",),
    "MM": ("Burma",),
    "TL": ("Timor-Leste",),
    "AE": ("UAE",),
    "VA": ("Vatican",),
}

# ISO 3166-1: alpha-2, alpha-3, then names ("|"-separated: short name, common name, official
# name). Transcribed from the standard; checked against Debian's iso-codes 4.15.
ISO_3166 = """
AD AND Andorra|Principality of Andorra
AE ARE United Arab Emirates
AF AFG Afghanistan|Islamic Republic of Afghanistan
AG ATG Antigua and Barbuda
AI AIA Anguilla
AL ALB Albania|Republic of Albania
AM ARM Armenia|Republic of Armenia
AO AGO Angola|Republic of Angola
AQ ATA Antarctica
AR ARG Argentina|Argentine Republic
AS ASM American Samoa
AT AUT Austria|Republic of Austria
AU AUS Australia
AW ABW Aruba
AX ALA Åland Islands
AZ AZE Azerbaijan|Republic of Azerbaijan
BA BIH Bosnia and Herzegovina|Republic of Bosnia and Herzegovina
BB BRB Barbados
BD BGD Bangladesh|People's Republic of Bangladesh
BE BEL Belgium|Kingdom of Belgium
BF BFA Burkina Faso
BG BGR Bulgaria|Republic of Bulgaria
BH BHR Bahrain|Kingdom of Bahrain
BI BDI Burundi|Republic of Burundi
BJ BEN Benin|Republic of Benin
BL BLM Saint Barthélemy
BM BMU Bermuda
BN BRN Brunei Darussalam
BO BOL Bolivia, Plurinational State of|Bolivia|Plurinational State of Bolivia
BQ BES Bonaire, Sint Eustatius and Saba
BR BRA Brazil|Federative Republic of Brazil
BS BHS Bahamas|Commonwealth of the Bahamas
BT BTN Bhutan|Kingdom of Bhutan
BV BVT Bouvet Island
BW BWA Botswana|Republic of Botswana
BY BLR Belarus|Republic of Belarus
BZ BLZ Belize
CA CAN Canada
CC CCK Cocos (Keeling) Islands
CD COD Congo, The Democratic Republic of the
CF CAF Central African Republic
CG COG Congo|Republic of the Congo
CH CHE Switzerland|Swiss Confederation
CI CIV Côte d'Ivoire|Republic of Côte d'Ivoire
CK COK Cook Islands
CL CHL Chile|Republic of Chile
CM CMR Cameroon|Republic of Cameroon
CN CHN China|People's Republic of China
CO COL Colombia|Republic of Colombia
CR CRI Costa Rica|Republic of Costa Rica
CU CUB Cuba|Republic of Cuba
CV CPV Cabo Verde|Republic of Cabo Verde
CW CUW Curaçao
CX CXR Christmas Island
CY CYP Cyprus|Republic of Cyprus
CZ CZE Czechia|Czech Republic
DE DEU Germany|Federal Republic of Germany
DJ DJI Djibouti|Republic of Djibouti
DK DNK Denmark|Kingdom of Denmark
DM DMA Dominica|Commonwealth of Dominica
DO DOM Dominican Republic
DZ DZA Algeria|People's Democratic Republic of Algeria
EC ECU Ecuador|Republic of Ecuador
EE EST Estonia|Republic of Estonia
EG EGY Egypt|Arab Republic of Egypt
EH ESH Western Sahara
ER ERI Eritrea|the State of Eritrea
ES ESP Spain|Kingdom of Spain
ET ETH Ethiopia|Federal Democratic Republic of Ethiopia
FI FIN Finland|Republic of Finland
FJ FJI Fiji|Republic of Fiji
FK FLK Falkland Islands (Malvinas)
FM FSM Micronesia, Federated States of|Federated States of Micronesia
FO FRO Faroe Islands
FR FRA France|French Republic
GA GAB Gabon|Gabonese Republic
GB GBR United Kingdom|United Kingdom of Great Britain and Northern Ireland
GD GRD Grenada
GE GEO Georgia
GF GUF French Guiana
GG GGY Guernsey
GH GHA Ghana|Republic of Ghana
GI GIB Gibraltar
GL GRL Greenland
GM GMB Gambia|Republic of the Gambia
GN GIN Guinea|Republic of Guinea
GP GLP Guadeloupe
GQ GNQ Equatorial Guinea|Republic of Equatorial Guinea
GR GRC Greece|Hellenic Republic
GS SGS South Georgia and the South Sandwich Islands
GT GTM Guatemala|Republic of Guatemala
GU GUM Guam
GW GNB Guinea-Bissau|Republic of Guinea-Bissau
GY GUY Guyana|Republic of Guyana
HK HKG Hong Kong|Hong Kong Special Administrative Region of China
HM HMD Heard Island and McDonald Islands
HN HND Honduras|Republic of Honduras
HR HRV Croatia|Republic of Croatia
HT HTI Haiti|Republic of Haiti
HU HUN Hungary
ID IDN Indonesia|Republic of Indonesia
IE IRL Ireland
IL ISR Israel|State of Israel
IM IMN Isle of Man
IN IND India|Republic of India
IO IOT British Indian Ocean Territory
IQ IRQ Iraq|Republic of Iraq
IR IRN Iran, Islamic Republic of|Iran|Islamic Republic of Iran
IS ISL Iceland|Republic of Iceland
IT ITA Italy|Italian Republic
JE JEY Jersey
JM JAM Jamaica
JO JOR Jordan|Hashemite Kingdom of Jordan
JP JPN Japan
KE KEN Kenya|Republic of Kenya
KG KGZ Kyrgyzstan|Kyrgyz Republic
KH KHM Cambodia|Kingdom of Cambodia
KI KIR Kiribati|Republic of Kiribati
KM COM Comoros|Union of the Comoros
KN KNA Saint Kitts and Nevis
KP PRK Korea, Democratic People's Republic of|North Korea|Democratic People's Republic of Korea
KR KOR Korea, Republic of|South Korea
KW KWT Kuwait|State of Kuwait
KY CYM Cayman Islands
KZ KAZ Kazakhstan|Republic of Kazakhstan
LA LAO Lao People's Democratic Republic|Laos
LB LBN Lebanon|Lebanese Republic
LC LCA Saint Lucia
LI LIE Liechtenstein|Principality of Liechtenstein
LK LKA Sri Lanka|Democratic Socialist Republic of Sri Lanka
LR LBR Liberia|Republic of Liberia
LS LSO Lesotho|Kingdom of Lesotho
LT LTU Lithuania|Republic of Lithuania
LU LUX Luxembourg|Grand Duchy of Luxembourg
LV LVA Latvia|Republic of Latvia
LY LBY Libya
MA MAR Morocco|Kingdom of Morocco
MC MCO Monaco|Principality of Monaco
MD MDA Moldova, Republic of|Moldova|Republic of Moldova
ME MNE Montenegro
MF MAF Saint Martin (French part)
MG MDG Madagascar|Republic of Madagascar
MH MHL Marshall Islands|Republic of the Marshall Islands
MK MKD North Macedonia|Republic of North Macedonia
ML MLI Mali|Republic of Mali
MM MMR Myanmar|Republic of Myanmar
MN MNG Mongolia
MO MAC Macao|Macao Special Administrative Region of China
MP MNP Northern Mariana Islands|Commonwealth of the Northern Mariana Islands
MQ MTQ Martinique
MR MRT Mauritania|Islamic Republic of Mauritania
MS MSR Montserrat
MT MLT Malta|Republic of Malta
MU MUS Mauritius|Republic of Mauritius
MV MDV Maldives|Republic of Maldives
MW MWI Malawi|Republic of Malawi
MX MEX Mexico|United Mexican States
MY MYS Malaysia
MZ MOZ Mozambique|Republic of Mozambique
NA NAM Namibia|Republic of Namibia
NC NCL New Caledonia
NE NER Niger|Republic of the Niger
NF NFK Norfolk Island
NG NGA Nigeria|Federal Republic of Nigeria
NI NIC Nicaragua|Republic of Nicaragua
NL NLD Netherlands|Kingdom of the Netherlands
NO NOR Norway|Kingdom of Norway
NP NPL Nepal|Federal Democratic Republic of Nepal
NR NRU Nauru|Republic of Nauru
NU NIU Niue
NZ NZL New Zealand
OM OMN Oman|Sultanate of Oman
PA PAN Panama|Republic of Panama
PE PER Peru|Republic of Peru
PF PYF French Polynesia
PG PNG Papua New Guinea|Independent State of Papua New Guinea
PH PHL Philippines|Republic of the Philippines
PK PAK Pakistan|Islamic Republic of Pakistan
PL POL Poland|Republic of Poland
PM SPM Saint Pierre and Miquelon
PN PCN Pitcairn
PR PRI Puerto Rico
PS PSE Palestine, State of|the State of Palestine
PT PRT Portugal|Portuguese Republic
PW PLW Palau|Republic of Palau
PY PRY Paraguay|Republic of Paraguay
QA QAT Qatar|State of Qatar
RE REU Réunion
RO ROU Romania
RS SRB Serbia|Republic of Serbia
RU RUS Russian Federation
RW RWA Rwanda|Rwandese Republic
SA SAU Saudi Arabia|Kingdom of Saudi Arabia
SB SLB Solomon Islands
SC SYC Seychelles|Republic of Seychelles
SD SDN Sudan|Republic of the Sudan
SE SWE Sweden|Kingdom of Sweden
SG SGP Singapore|Republic of Singapore
SH SHN Saint Helena, Ascension and Tristan da Cunha
SI SVN Slovenia|Republic of Slovenia
SJ SJM Svalbard and Jan Mayen
SK SVK Slovakia|Slovak Republic
SL SLE Sierra Leone|Republic of Sierra Leone
SM SMR San Marino|Republic of San Marino
SN SEN Senegal|Republic of Senegal
SO SOM Somalia|Federal Republic of Somalia
SR SUR Suriname|Republic of Suriname
SS SSD South Sudan|Republic of South Sudan
ST STP Sao Tome and Principe|Democratic Republic of Sao Tome and Principe
SV SLV El Salvador|Republic of El Salvador
SX SXM Sint Maarten (Dutch part)
SY SYR Syrian Arab Republic|Syria
SZ SWZ Eswatini|Kingdom of Eswatini
TC TCA Turks and Caicos Islands
TD TCD Chad|Republic of Chad
TF ATF French Southern Territories
TG TGO Togo|Togolese Republic
TH THA Thailand|Kingdom of Thailand
TJ TJK Tajikistan|Republic of Tajikistan
TK TKL Tokelau
TL TLS Timor-Leste|Democratic Republic of Timor-Leste
TM TKM Turkmenistan
TN TUN Tunisia|Republic of Tunisia
TO TON Tonga|Kingdom of Tonga
TR TUR Türkiye|Republic of Türkiye
TT TTO Trinidad and Tobago|Republic of Trinidad and Tobago
TV TUV Tuvalu
TW TWN Taiwan, Province of China|Taiwan
TZ TZA Tanzania, United Republic of|Tanzania|United Republic of Tanzania
UA UKR Ukraine
UG UGA Uganda|Republic of Uganda
UM UMI United States Minor Outlying Islands
US USA United States|United States of America
UY URY Uruguay|Eastern Republic of Uruguay
UZ UZB Uzbekistan|Republic of Uzbekistan
VA VAT Holy See (Vatican City State)
VC VCT Saint Vincent and the Grenadines
VE VEN Venezuela, Bolivarian Republic of|Venezuela|Bolivarian Republic of Venezuela
VG VGB Virgin Islands, British|British Virgin Islands
VI VIR Virgin Islands, U.S.|Virgin Islands of the United States
VN VNM Viet Nam|Vietnam|Socialist Republic of Viet Nam
VU VUT Vanuatu|Republic of Vanuatu
WF WLF Wallis and Futuna
WS WSM Samoa|Independent State of Samoa
YE YEM Yemen|Republic of Yemen
YT MYT Mayotte
ZA ZAF South Africa|Republic of South Africa
ZM ZMB Zambia|Republic of Zambia
ZW ZWE Zimbabwe|Republic of Zimbabwe
"""


@dataclass(frozen=True)
class Row:
    """One zone of the output table (the columns of ``bundled.COLUMNS``)."""

    key: str
    kind: str
    name: str
    g_per_kwh: float
    year: int | None
    source: str
    basis: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    signal: str = "average"
    origin: str = ""  # the input it came from (for the report only)

    @property
    def uncertainty_rel(self) -> float:
        return uncertainty_for_year(self.year)

    def fields(self) -> list[str]:
        return [
            self.key,
            self.kind,
            self.name,
            "|".join(self.aliases),
            _fmt(self.g_per_kwh),
            "" if self.year is None else str(self.year),
            self.source,
            self.signal,
            self.basis,
            _fmt(self.uncertainty_rel),
            self.note,
        ]


@dataclass
class Report:
    """What the build did to its inputs beyond reading them: fixes, rejections, choices."""

    fixed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        out = io.StringIO()
        for title, items in (
            ("fixed", self.fixed),
            ("rejected", self.rejected),
            ("dropped aliases", self.dropped),
            ("notes", self.notes),
        ):
            out.write(f"{title}: {len(items)}\n")
            for item in items:
                out.write(f"  - {item}\n")
        return out.getvalue()


def uncertainty_for_year(year: int | None) -> float:
    """The documented age rule (see the constants at the top of this script)."""
    if year is None:
        return UNDATED_UNCERTAINTY_REL
    value = BASE_UNCERTAINTY_REL + DRIFT_PER_YEAR_REL * max(0, FRESH_YEAR - year)
    return round(min(MAX_UNCERTAINTY_REL, value), 3)


def _fmt(value: float) -> str:
    """Numbers rounded to 0.001 (far below any uncertainty), without a trailing ".0"."""
    text = repr(round(value, 3))
    return text[:-2] if text.endswith(".0") else text


def iso_table() -> dict[str, tuple[str, tuple[str, ...]]]:
    """alpha-3 → (alpha-2, names)."""
    table: dict[str, tuple[str, tuple[str, ...]]] = {}
    for line in ISO_3166.strip().splitlines():
        alpha2, alpha3, names = line.split(" ", 2)
        table[alpha3] = (alpha2, tuple(names.split("|")))
    if len(table) != 249 or len({a2 for a2, _ in table.values()}) != 249:
        raise SystemExit("ISO 3166 table: expected 249 distinct codes")
    return table


def _read_json(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object")
    return data


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) without blank lines."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
        rows = [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    return header, rows


# -- countries, states, world ----------------------------------------------------------


def countries(data: Path, report: Report) -> list[Row]:
    path = data / "grid" / "countries" / "global_energy_mix.json"
    iso = iso_table()
    rows = []
    for alpha3, entry in sorted(_read_json(path).items()):
        if not isinstance(entry, dict):
            report.rejected.append(f"{path.name} {alpha3}: not an object")
            continue
        if alpha3 not in iso:
            report.rejected.append(f"{path.name} {alpha3}: not an ISO 3166-1 alpha-3 code")
            continue
        value, year = entry.get("carbon_intensity"), entry.get("year")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            report.rejected.append(
                f"{path.name} {alpha3} ({entry.get('country_name')}): carbon_intensity "
                f"{value!r} is not a positive number (a zero is missing data, not a grid "
                f"with no emissions: lifecycle factors are never zero)"
            )
            continue
        if not isinstance(year, int):
            report.rejected.append(f"{path.name} {alpha3}: year {year!r} is not an integer")
            continue
        alpha2, iso_names = iso[alpha3]
        name = str(entry.get("country_name") or iso_names[0])
        rows.append(
            Row(
                key=alpha2,
                kind="country",
                name=name,
                aliases=(alpha3, *iso_names, *COUNTRY_ALIASES.get(alpha2, ())),
                g_per_kwh=float(value),
                year=year,
                source=f"Ember/OWID {year} via CodeCarbon",
                basis="lifecycle",
            )
        )
    return rows


def us_states(data: Path, report: Report) -> list[Row]:
    path = data / "grid" / "countries" / "usa_states_egrid2016_lbs_per_mwh.json"
    raw = _read_json(path)
    unit = raw.get("_unit")
    if not (isinstance(unit, dict) and unit.get("emissions") == "lbs/MWh"):
        raise SystemExit(f"{path}: expected '_unit' to say lbs/MWh, found {unit!r}")
    rows = []
    for name, entry in sorted(raw.items()):
        if name == "_unit":
            continue
        if not isinstance(entry, dict):
            report.rejected.append(f"{path.name} {name!r}: not an object")
            continue
        code, value = entry.get("regionCode"), entry.get("emissions")
        if name == "usa":
            report.notes.append(
                f"{path.name}: national 'usa' entry ({value} lbs/MWh) skipped; the US "
                "country row comes from Ember/OWID"
            )
            continue
        if not (isinstance(code, str) and re.fullmatch(r"[A-Z]{2}", code)):
            report.rejected.append(f"{path.name} {name!r}: regionCode {code!r}")
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            report.rejected.append(f"{path.name} {name!r}: emissions {value!r}")
            continue
        rows.append(
            Row(
                key=f"US-{code}",
                kind="us-state",
                name=_title(name),
                aliases=(_title(name),),
                g_per_kwh=lbs_per_mwh_to_g_per_kwh(float(value)),
                year=2016,
                source="US EPA eGRID2016 via CodeCarbon",
                basis="direct",
                note="eGRID 2016: old data; US grids have changed since",
            )
        )
    return rows


def _title(name: str) -> str:
    small = {"of", "and"}
    return " ".join(w if w in small else w.capitalize() for w in name.split())


def world(data: Path) -> Row:
    path = data / "grid" / "countries" / "carbon_intensity_per_source.json"
    entry = _read_json(path)
    value = entry.get("world_average")
    if not isinstance(value, (int, float)) or value <= 0:
        raise SystemExit(f"{path}: world_average {value!r}")
    return Row(
        key="WORLD",
        kind="world",
        name="World average",
        aliases=("World", "Global"),
        g_per_kwh=float(value),
        year=2018,
        source="IEA Global Energy & CO2 Status Report 2019 via CodeCarbon",
        basis="direct",
        note="CO2 intensity of power generation in 2018",
    )


# -- cloud regions ---------------------------------------------------------------------


def parse_ccf_factor(text: str) -> tuple[float, str | None]:
    """A CCF factor in t/kWh and, when the text was malformed and fixed, how.

    Raises ValueError for anything else (the row is then rejected).
    """
    raw = text.strip()
    fix = None
    if _CCF_DECIMAL.fullmatch(raw):
        value = float(raw)
    elif _CCF_DROPPED_POINT.fullmatch(raw):
        value = float("0." + raw)
        fix = f"{raw!r} read as 0.{raw} t/kWh (the leading '0.' was missing)"
    else:
        raise ValueError(f"{raw!r} is not a decimal number")
    if not 0 < value <= CCF_MAX_T_PER_KWH:
        raise ValueError(f"{raw!r} t/kWh is outside (0, {CCF_MAX_T_PER_KWH}]")
    return value, fix


def ccf(data: Path, provider: str, report: Report) -> dict[str, Row]:
    path = data / "grid" / "cloud" / f"ccf_grid_emissions_factors_{provider}.csv"
    header, body = _read_csv(path)
    col = {name: i for i, name in enumerate(header)}
    try:
        i_region, i_value, i_source = (
            col["Region"],
            col["CO2e (metric ton/kWh)"],
            col["Source"],
        )
    except KeyError as exc:
        raise SystemExit(f"{path}: missing column {exc}") from None
    i_place = col.get("Location", col.get("Country"))
    out: dict[str, Row] = {}
    for line, row in body:
        where = f"{path.name} line {line}"
        if len(row) == len(header) + 1 and not row[-1].strip():
            report.fixed.append(f"{where}: trailing empty field ignored")
            row = row[:-1]
        if len(row) != len(header):
            report.rejected.append(f"{where}: {len(row)} fields, expected {len(header)}")
            continue
        try:
            value, fix = parse_ccf_factor(row[i_value])
        except ValueError as exc:
            report.rejected.append(f"{where} ({row[i_region]}): {exc}")
            continue
        source_name = row[i_source].strip()
        if source_name not in CCF_SOURCES:
            report.rejected.append(f"{where}: unknown source {source_name!r}")
            continue
        citation, year, basis = CCF_SOURCES[source_name]
        key = cloud_key(provider, row[i_region])
        g = tonnes_per_kwh_to_g_per_kwh(value)
        if fix is not None:
            report.fixed.append(f"{where} ({row[i_region]}): {fix} = {_fmt(g)} g/kWh")
        place = row[i_place].strip() if i_place is not None else ""
        if key in out:
            report.rejected.append(f"{where}: duplicate region {key}")
            continue
        out[key] = Row(
            key=key,
            kind="cloud",
            name=_cloud_name(provider, row[i_region].strip(), place),
            g_per_kwh=g,
            year=year,
            source=f"Cloud Carbon Footprint ({citation})",
            basis=basis,
            note=f"value fixed: {fix}" if fix else "",
            origin="Cloud Carbon Footprint",
        )
    return out


def _cloud_name(provider: str, region: str, place: str) -> str:
    label = f"{PROVIDER_NAMES[provider]} {region}"
    return f"{label} ({place})" if place else label


def gcp_region_carbon(data: Path, report: Report) -> dict[str, Row]:
    """Google's yearly region data: the latest year of each region."""
    latest: dict[str, Row] = {}
    files = sorted((data / "grid" / "cloud").glob("gcp_region_carbon_*.csv"))
    for path in files:
        match = re.fullmatch(r"gcp_region_carbon_(\d{4})\.csv", path.name)
        if match is None:
            continue
        year = int(match.group(1))
        header, body = _read_csv(path)
        value_cols = [i for i, h in enumerate(header) if "carbon intensity" in h.lower()]
        if len(value_cols) != 1 or header[0] != "Google Cloud Region":
            raise SystemExit(f"{path}: unexpected header {header}")
        i_value = value_cols[0]
        basis = "lifecycle" if "lifecycle" in header[i_value].lower() else "direct"
        if (basis == "lifecycle") != (year < 2021):
            raise SystemExit(
                f"{path}: column {header[i_value]!r} contradicts Google's 2021 change of "
                "definition (lifecycle before 2021, operational from 2021)"
            )
        for line, row in body:
            where = f"{path.name} line {line}"
            try:
                value = float(row[i_value])
            except (ValueError, IndexError):
                report.rejected.append(f"{where}: value {row[i_value : i_value + 1]}")
                continue
            if not 0 <= value <= 2000:
                report.rejected.append(f"{where}: value {value} out of range")
                continue
            key = cloud_key("gcp", row[0])
            previous = latest.get(key)
            if previous is None or (previous.year or 0) < year:
                latest[key] = Row(
                    key=key,
                    kind="cloud",
                    name=_cloud_name("gcp", row[0].strip(), row[1].strip()),
                    g_per_kwh=value,
                    year=year,
                    source=f"Google Cloud region carbon {year}",
                    basis=basis,
                    note="" if basis == "lifecycle" else "operational (scope 2 location-based)",
                    origin="Google region carbon",
                )
    _report_gcp_drift(latest, files, report)
    return latest


def _report_gcp_drift(latest: dict[str, Row], files: list[Path], report: Report) -> None:
    """Median year-over-year relative change, 2021+ (one definition): evidence for the drift."""
    by_year: dict[int, dict[str, float]] = {}
    for path in files:
        year = int(path.stem.rsplit("_", 1)[1])
        if year < 2021:
            continue
        header, body = _read_csv(path)
        i_value = next(i for i, h in enumerate(header) if "carbon intensity" in h.lower())
        by_year[year] = {r[0]: float(r[i_value]) for _, r in body}
    changes = [
        abs(by_year[y + 1][region] - value) / value
        for y in sorted(by_year)
        if y + 1 in by_year
        for region, value in by_year[y].items()
        if region in by_year[y + 1] and value > 20
    ]
    if changes:
        report.notes.append(
            f"Google region data 2021-2024: median year-over-year change "
            f"{statistics.median(changes):.1%} over {len(changes)} region-years"
        )


def mlco2(data: Path, report: Report) -> dict[str, Row]:
    path = data / "grid" / "cloud" / "mlco2_impact_regions.csv"
    header, body = _read_csv(path)
    col = {name: i for i, name in enumerate(header)}
    out: dict[str, Row] = {}
    skipped: dict[str, int] = {}
    for line, row in body:
        where = f"{path.name} line {line}"
        provider = row[col["provider"]].strip()
        if provider not in PROVIDER_NAMES:
            skipped[provider] = skipped.get(provider, 0) + 1
            continue
        region, source = row[col["region"]].strip(), row[col["source"]].strip()
        if not region or not source:
            report.rejected.append(f"{where} ({provider}:{region}): no region or no source")
            continue
        try:
            value = float(row[col["impact"]])
        except ValueError:
            report.rejected.append(f"{where}: impact {row[col['impact']]!r}")
            continue
        if not 0 < value <= 2000:
            report.rejected.append(f"{where}: impact {value} out of range")
            continue
        lowered = source.lower()
        basis = (
            "direct"
            if "egrid" in lowered
            else "lifecycle"
            if "electricitymap" in lowered
            else "unknown"
        )
        place = ", ".join(p for p in (row[col["city"]].strip(), row[col["country"]].strip()) if p)
        key = cloud_key(provider, region)
        display = row[col["regionName"]].strip() if provider == "azure" else ""
        out[key] = Row(
            key=key,
            kind="cloud",
            name=_cloud_name(provider, display or region, place),
            g_per_kwh=value,
            year=None,
            source=f"ML CO2 Impact ({_short_source(source)})",
            basis=basis,
            origin="ML CO2 Impact",
        )
    for provider, count in sorted(skipped.items()):
        report.notes.append(f"{path.name}: {count} row(s) of provider {provider!r} not bundled")
    return out


def _short_source(source: str) -> str:
    url = re.search(r"https?://(?:www\.)?([^/\s]+)", source)
    if url is not None:
        return url.group(1)
    if "electricitymap" in source.lower():
        return "electricityMap snapshot 2019"
    return source[:40]


def cloud(data: Path, report: Report) -> list[Row]:
    """Every cloud region, each from the highest-precedence source that covers it."""
    ranked: dict[str, list[tuple[int, Row]]] = {}
    candidates: list[tuple[int, dict[str, Row]]] = [
        (RANK_PROVIDER, gcp_region_carbon(data, report))
    ]
    candidates += [(RANK_CCF, ccf(data, p, report)) for p in ("aws", "azure", "gcp")]
    candidates.append((RANK_MLCO2, mlco2(data, report)))
    for rank, rows in candidates:
        for key, row in rows.items():
            ranked.setdefault(key, []).append((rank, row))
    chosen = []
    counts: dict[str, int] = {}
    for key in sorted(ranked):
        rank, row = min(ranked[key], key=lambda pair: pair[0])
        counts[row.origin] = counts.get(row.origin, 0) + 1
        chosen.append(row)
    report.notes.append(
        "cloud regions by source: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    )
    return chosen


# -- assembling ------------------------------------------------------------------------


def dedupe_aliases(rows: list[Row], report: Report) -> list[Row]:
    """Aliases unique across the table (first row in table order keeps a contested one)."""
    owner: dict[str, str] = {}
    for row in rows:
        owner.setdefault(fold_name(row.key), row.key)
    out = []
    for row in rows:
        kept: list[str] = []
        seen = {fold_name(row.key)}
        for alias in (row.name, *row.aliases):
            folded = fold_name(alias)
            if not folded or folded in seen:
                continue
            seen.add(folded)
            holder = owner.setdefault(folded, row.key)
            if holder != row.key:
                report.dropped.append(f"{alias!r} kept for {holder}, dropped from {row.key}")
                continue
            if alias != row.name:
                kept.append(alias)
        out.append(replace(row, aliases=tuple(kept)))
    return out


def build(data: Path) -> tuple[list[Row], Report]:
    report = Report()
    rows = [world(data), *countries(data, report), *us_states(data, report), *cloud(data, report)]
    rows.sort(key=lambda r: (KIND_ORDER[r.kind], r.key))
    keys = [r.key for r in rows]
    if len(keys) != len(set(keys)):
        raise SystemExit("duplicate zone keys")
    return dedupe_aliases(rows, report), report


def render(rows: Iterable[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row.fields())
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("data", type=Path, help="the reference data folder (shared/data)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    parser.add_argument("--quiet", action="store_true", help="no report")
    args = parser.parse_args(argv)
    rows, report = build(args.data)
    text = render(rows)
    if not args.quiet:
        sys.stderr.write(report.render())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            sys.stderr.write(f"{args.output} is stale: re-run this script\n")
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    if not args.quiet:
        sys.stderr.write(f"wrote {len(rows)} zones to {args.output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
