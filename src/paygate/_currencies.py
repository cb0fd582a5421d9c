"""ISO 4217: active currency codes and their minor-unit exponents.

Data only. Codes without a minor unit in ISO 4217 (precious metals, XDR, XSU, XUA, testing
codes) are left out: they cannot be charged. Currencies withdrawn before 2026 (HRK, CUC, SLL,
ZWL, ANG, BGN) are left out too. Providers that deviate from this table declare their own
exponents in their adapter (see ``ProviderCurrency``).
"""

from __future__ import annotations

from typing import Final

ISO_4217_EXPONENTS: Final[dict[str, int]] = {
    # zero-decimal
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
            "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    # three-decimal
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    # four-decimal (units of account)
    **dict.fromkeys(("CLF", "UYW"), 4),
    # two-decimal
    **dict.fromkeys(
        (
            "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM",
            "BBD", "BDT", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP",
            "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU",
            "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
            "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
            "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES",
            "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
            "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
            "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
            "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD",
            "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS",
            "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
            "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED",
            "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
        ),
        2,
    ),
}  # fmt: skip
