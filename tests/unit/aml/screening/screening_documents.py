"""Small, schema-valid EU FSF and OFAC advanced XML documents for the loader tests."""

from __future__ import annotations

EU_SUMMARY = (
    '<regulationSummary regulationType="regulation" publicationDate="2022-02-25" numberTitle="2022/330"'
    ' publicationUrl="https://example.org/regulation"/>'
)


def _eu_detail(tag: str, attributes: str, logical_id: int) -> str:
    return f'<{tag} {attributes} regulationLanguage="en" logicalId="{logical_id}">{EU_SUMMARY}</{tag}>'


def eu_document() -> bytes:
    """Two sanction entities: a person with two names, a birth date, citizenship and a passport; a company."""
    regulation = (
        '<regulation regulationType="regulation" organisationType="commission" publicationDate="2022-02-25"'
        ' entryIntoForceDate="2022-02-25" numberTitle="2022/330" programme="RUS" logicalId="9001">'
        "<publicationUrl>https://example.org/regulation</publicationUrl></regulation>"
    )
    person = (
        '<sanctionEntity designationDate="2022-02-25" euReferenceNumber="EU.7001.23" logicalId="101">'
        f"{regulation}"
        '<subjectType code="person" classificationCode="P"/>'
        + _eu_detail(
            "nameAlias",
            'firstName="Ivan" middleName="Ivanovich" lastName="Petrov" wholeName="Ivan Ivanovich Petrov"'
            ' gender="M" strong="true"',
            102,
        )
        + _eu_detail("nameAlias", 'wholeName="Иван Иванович Петров" nameLanguage="RU" strong="false"', 103)
        + _eu_detail("citizenship", 'countryIso2Code="RU" countryDescription="RUSSIAN FEDERATION"', 104)
        + _eu_detail(
            "birthdate",
            'circa="false" calendarType="GREGORIAN" birthdate="1970-03-04" dayOfMonth="4" monthOfYear="3"'
            ' year="1970" countryIso2Code="RU" countryDescription="RUSSIAN FEDERATION"',
            105,
        )
        + _eu_detail(
            "identification",
            'diplomatic="false" knownExpired="false" knownFalse="false" reportedLost="false"'
            ' revokedByIssuer="false" number="72 0123456" identificationTypeCode="passport"'
            ' identificationTypeDescription="National passport" countryIso2Code="RU"'
            ' countryDescription="RUSSIAN FEDERATION"',
            106,
        )
        + "</sanctionEntity>"
    )
    company = (
        '<sanctionEntity designationDate="2023-06-23" logicalId="201">'
        f"{regulation}"
        '<subjectType code="enterprise" classificationCode="E"/>'
        + _eu_detail("nameAlias", 'wholeName="Northern Star Trading LLC" strong="true"', 202)
        + _eu_detail(
            "address",
            'city="Dubai" asAtListingTime="true" countryIso2Code="AE" countryDescription="UAE"',
            203,
        )
        + _eu_detail("address", 'city="unknown" countryIso2Code="00" countryDescription="UNKNOWN"', 204)
        + "</sanctionEntity>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2024-05-03T10:00:00.000+02:00"'
        f' globalFileId="123456">{person}{company}</export>'
    ).encode()


# The reference value sets, in the schema's order; the ones the document refers to carry values.
_VALUE_SETS = (
    "AliasType",
    "AreaCode",
    "AreaCodeType",
    "CalendarType",
    "Country",
    "CountryRelevance",
    "DecisionMakingBody",
    "DetailReference",
    "DetailType",
    "DocNameStatus",
    "EntryEventType",
    "EntryLinkType",
    "ExRefType",
    "FeatureType",
    "FeatureTypeGroup",
    "IDRegDocDateType",
    "IDRegDocType",
    "IdentityFeatureLinkType",
    "LegalBasis",
    "LegalBasisType",
    "List",
    "LocPartType",
    "LocPartValueStatus",
    "LocPartValueType",
    "NamePartType",
    "Organisation",
    "PartySubType",
    "PartyType",
    "RelationQuality",
    "RelationType",
    "Reliability",
    "SanctionsProgram",
    "SanctionsType",
    "Script",
    "ScriptStatus",
    "SubsidiaryBody",
    "SupInfoType",
    "TargetType",
    "Validity",
)
_VALUES = {
    "AliasType": '<AliasType ID="1">A.K.A.</AliasType><AliasType ID="1403">Name</AliasType>',
    "CalendarType": '<CalendarType ID="1">Gregorian</CalendarType>',
    "Country": '<Country ID="11" ISO2="IR">Iran</Country>',
    "CountryRelevance": '<CountryRelevance ID="1">Primary</CountryRelevance>',
    "DecisionMakingBody": '<DecisionMakingBody ID="1" OrganisationID="1">OFAC</DecisionMakingBody>',
    "DocNameStatus": '<DocNameStatus ID="1">Primary Latin</DocNameStatus>',
    "EntryEventType": '<EntryEventType ID="1">Created</EntryEventType>',
    "FeatureType": '<FeatureType ID="8" FeatureTypeGroupID="1">Birthdate</FeatureType>'
    '<FeatureType ID="10" FeatureTypeGroupID="1">Nationality Country</FeatureType>',
    "FeatureTypeGroup": '<FeatureTypeGroup ID="1">Personal</FeatureTypeGroup>',
    "IDRegDocType": '<IDRegDocType ID="1571">Passport</IDRegDocType>',
    "IdentityFeatureLinkType": '<IdentityFeatureLinkType ID="1">Associated</IdentityFeatureLinkType>',
    "List": '<List ID="1">SDN List</List>',
    "NamePartType": (
        '<NamePartType ID="1520">Last Name</NamePartType><NamePartType ID="1521">First Name</NamePartType>'
    ),
    "Organisation": '<Organisation ID="1">US Treasury</Organisation>',
    "PartySubType": '<PartySubType ID="4" PartyTypeID="1">Unknown</PartySubType>',
    "PartyType": '<PartyType ID="1">Individual</PartyType>',
    "Reliability": '<Reliability ID="1">Reliable</Reliability>',
    "SanctionsProgram": '<SanctionsProgram ID="1" SubsidiaryBodyID="1">SDGT</SanctionsProgram>',
    "SanctionsType": '<SanctionsType ID="1">Program</SanctionsType>',
    "Script": '<Script ID="215" ScriptCode="Latn">Latin</Script>',
    "ScriptStatus": '<ScriptStatus ID="1">Unknown</ScriptStatus>',
    "SubsidiaryBody": (
        '<SubsidiaryBody ID="1" Notional="false" DecisionMakingBodyID="1">OFAC</SubsidiaryBody>'
    ),
}


def _date(tag: str, year: int, month: int, day: int) -> str:
    return f"<{tag}><Year>{year}</Year><Month>{month}</Month><Day>{day}</Day></{tag}>"


def _name(name_id: int, last: str, first: str) -> str:
    part = (
        '<DocumentedNamePart><NamePartValue NamePartGroupID="{g}" ScriptID="215" ScriptStatusID="1"'
        ' Acronym="false">{v}</NamePartValue></DocumentedNamePart>'
    )
    return (
        f'<DocumentedName ID="{name_id}" FixedRef="12113" DocNameStatusID="1">'
        f"{part.format(g=400, v=last)}{part.format(g=401, v=first)}</DocumentedName>"
    )


def ofac_advanced_document() -> bytes:
    """One individual: a primary name, an a.k.a., a birth date, a nationality, a passport, programme SDGT."""
    value_sets = "".join(f"<{name}Values>{_VALUES.get(name, '')}</{name}Values>" for name in _VALUE_SETS)
    identity = (
        '<Identity ID="200" FixedRef="12113" Primary="true" False="false">'
        '<Alias FixedRef="12113" AliasTypeID="1403" Primary="true" LowQuality="false">'
        f"{_name(300, 'MORTEZAVI', 'Hasan')}</Alias>"
        '<Alias FixedRef="12113" AliasTypeID="1" Primary="false" LowQuality="false">'
        f"{_name(301, 'ALI', 'Hassan')}</Alias>"
        "<NamePartGroups><MasterNamePartGroup>"
        '<NamePartGroup ID="400" NamePartTypeID="1520"/><NamePartGroup ID="401" NamePartTypeID="1521"/>'
        "</MasterNamePartGroup></NamePartGroups></Identity>"
    )
    boundary = 'Approximate="false" YearFixed="true" MonthFixed="true" DayFixed="true"'
    birth = (
        '<Feature ID="700" FeatureTypeID="8"><FeatureVersion ID="701" ReliabilityID="1">'
        '<DatePeriod CalendarTypeID="1" YearFixed="false" MonthFixed="false" DayFixed="false">'
        f"<Start {boundary}>{_date('From', 1964, 8, 23)}{_date('To', 1964, 8, 23)}</Start>"
        f"<End {boundary}>{_date('From', 1964, 8, 23)}{_date('To', 1964, 8, 23)}</End>"
        '</DatePeriod></FeatureVersion><IdentityReference IdentityID="200" IdentityFeatureLinkTypeID="1"/>'
        "</Feature>"
    )
    nationality = (
        '<Feature ID="710" FeatureTypeID="10"><FeatureVersion ID="711" ReliabilityID="1">'
        '<VersionLocation LocationID="500"/></FeatureVersion>'
        '<IdentityReference IdentityID="200" IdentityFeatureLinkTypeID="1"/></Feature>'
    )
    body = (
        f'<DateOfIssue CalendarTypeID="1"><Year>2024</Year><Month>5</Month><Day>3</Day></DateOfIssue>'
        f"<ReferenceValueSets>{value_sets}</ReferenceValueSets>"
        '<Locations><Location ID="500"><LocationCountry CountryID="11" CountryRelevanceID="1"/>'
        "</Location></Locations>"
        "<IDRegDocuments>"
        '<IDRegDocument ID="600" IDRegDocTypeID="1571" IdentityID="200" IssuedBy-CountryID="11">'
        "<IDRegistrationNo>D9019576</IDRegistrationNo></IDRegDocument></IDRegDocuments>"
        f'<DistinctParties><DistinctParty FixedRef="12113"><Profile ID="12113" PartySubTypeID="4">'
        f"{identity}{birth}{nationality}</Profile></DistinctParty></DistinctParties>"
        "<ProfileRelationships/>"
        '<SanctionsEntries><SanctionsEntry ID="800" ProfileID="12113" ListID="1">'
        f'<EntryEvent ID="801" EntryEventTypeID="1">'
        f'<Date CalendarTypeID="1"><Year>2008</Year><Month>1</Month>'
        "<Day>2</Day></Date></EntryEvent>"
        '<SanctionsMeasure ID="802" SanctionsTypeID="1"><Comment>SDGT</Comment>'
        '<DatePeriod CalendarTypeID="1" YearFixed="false" MonthFixed="false" DayFixed="false"/>'
        "</SanctionsMeasure>"
        "</SanctionsEntry></SanctionsEntries><SanctionsEntryLinks/>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Sanctions xmlns="http://www.un.org/sanctions/1.0" Version="1">{body}</Sanctions>'
    ).encode()
