using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// Vardbro's records ↔ FHIR R4 resources, both ways, in one place: the FHIR connector reads and
/// writes with it, and the FHIR-shaped output of every connector is made with it.
/// </summary>
public static class FhirMapping
{
    // ---- care units ↔ Location ---------------------------------------------------------------

    public static F.Location ToFhir(CareUnit unit, FhirIdMap ids)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(ids);
        var location = new F.Location
        {
            Id = ids.Other(unit.Id),
            Name = unit.Name,
            Status = F.Location.LocationStatus.Active,
            Address = unit.Address is null ? null : new F.Address { Text = unit.Address },
        };
        AddEmrId(location.Identifier, ids, unit.Id);
        location.Extension.Add(new F.Extension(FhirSystems.TimeZoneExtension, new F.FhirString(unit.TimeZone)));
        if (unit.RequiresConfirmation)
        {
            location.Extension.Add(new F.Extension(FhirSystems.RequiresConfirmationExtension, new F.FhirBoolean(true)));
        }

        return location;
    }

    public static CareUnit ToCareUnit(F.Location location, string defaultTimeZone)
    {
        ArgumentNullException.ThrowIfNull(location);
        var zone = StringExtension(location, FhirSystems.TimeZoneExtension);
        return new CareUnit(
            location.Id ?? string.Empty,
            location.Name ?? location.Id ?? string.Empty,
            zone is not null && TimeZones.TryFind(zone, out _) ? zone : defaultTimeZone,
            AddressText(location.Address),
            (ExtensionValue<F.FhirBoolean>(location.Extension, FhirSystems.RequiresConfirmationExtension)?.Value) ?? false);
    }

    // ---- resources ↔ Practitioner (+ PractitionerRole), Location (rooms), Device (equipment) ----

    public static F.Resource ToFhir(Resource resource, FhirIdMap ids)
    {
        ArgumentNullException.ThrowIfNull(resource);
        ArgumentNullException.ThrowIfNull(ids);
        var id = ids.Other(resource.Id);
        switch (resource.Kind)
        {
            case ResourceKinds.Room:
                var room = new F.Location
                {
                    Id = id,
                    Name = resource.Name,
                    Description = resource.Title,
                    Mode = F.Location.LocationMode.Instance,
                    PhysicalType = Concept("http://terminology.hl7.org/CodeSystem/location-physical-type", "ro", "Room"),
                    PartOf = new F.ResourceReference("Location/" + ids.Other(resource.CareUnitId)),
                };
                AddEmrId(room.Identifier, ids, resource.Id);
                return room;
            case ResourceKinds.Equipment:
                var device = new F.Device
                {
                    Id = id,
                    DeviceName = [new F.Device.DeviceNameComponent { Name = resource.Name, Type = F.DeviceNameType.UserFriendlyName }],
                    Location = new F.ResourceReference("Location/" + ids.Other(resource.CareUnitId)),
                };
                AddEmrId(device.Identifier, ids, resource.Id);
                return device;
            default:
                var practitioner = new F.Practitioner
                {
                    Id = id,
                    Name = [PersonName(resource.Name)],
                    Qualification = resource.Title is null ? [] : [new F.Practitioner.QualificationComponent { Code = new F.CodeableConcept { Text = resource.Title } }],
                };
                AddEmrId(practitioner.Identifier, ids, resource.Id);
                if (resource.HsaId is not null)
                {
                    practitioner.Identifier.Add(new F.Identifier(FhirSystems.HsaId, resource.HsaId));
                }

                if (resource.SePersonalNumber is not null)
                {
                    practitioner.Identifier.Add(new F.Identifier(FhirSystems.SePersonalNumber, resource.SePersonalNumber));
                }

                return practitioner;
        }
    }

    public static Resource ToResource(F.Practitioner practitioner, F.PractitionerRole? role, string careUnitId)
    {
        ArgumentNullException.ThrowIfNull(practitioner);
        var title = role?.Code.Select(ConceptText).FirstOrDefault(t => t is not null)
            ?? practitioner.Qualification.Select(q => ConceptText(q.Code)).FirstOrDefault(t => t is not null);
        return new Resource(
            practitioner.Id ?? string.Empty,
            careUnitId,
            NameText(practitioner.Name) ?? practitioner.Id ?? string.Empty,
            title,
            ResourceKinds.Practitioner,
            IdentifierValue(practitioner.Identifier, FhirSystems.HsaId),
            IdentifierValue(practitioner.Identifier, FhirSystems.SePersonalNumber));
    }

    // ---- healthcare services ↔ HealthcareService ------------------------------------------------

    public static F.HealthcareService ToFhir(HealthcareService service, FhirIdMap ids)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(ids);
        var fhir = new F.HealthcareService
        {
            Id = ids.Other(service.Id),
            Active = true,
            Name = service.Name,
            Comment = service.Description,
            Location = [new F.ResourceReference("Location/" + ids.Other(service.CareUnitId))],
        };
        AddEmrId(fhir.Identifier, ids, service.Id);
        fhir.Extension.Add(new F.Extension(FhirSystems.DurationExtension, new F.Integer(service.DurationMinutes)));
        return fhir;
    }

    /// <summary>A service without the duration extension lasts <paramref name="defaultMinutes"/>.</summary>
    public static HealthcareService ToService(F.HealthcareService service, string careUnitId, int defaultMinutes)
    {
        ArgumentNullException.ThrowIfNull(service);
        var minutes = ExtensionValue<F.Integer>(service.Extension, FhirSystems.DurationExtension)?.Value;
        return new HealthcareService(service.Id ?? string.Empty, careUnitId, service.Name ?? service.Id ?? string.Empty, service.Comment, minutes is > 0 ? minutes.Value : defaultMinutes);
    }

    // ---- patients ↔ Patient ----------------------------------------------------------------------

    public static F.Patient ToFhir(Patient patient, FhirIdMap ids)
    {
        ArgumentNullException.ThrowIfNull(patient);
        ArgumentNullException.ThrowIfNull(ids);
        var fhir = new F.Patient
        {
            Id = ids.Patient(patient.EmrId),
            Meta = new F.Meta { LastUpdated = patient.UpdatedAt },
        };
        AddEmrId(fhir.Identifier, ids, patient.EmrId);
        if (patient.SePersonalNumber is { } se)
        {
            fhir.Identifier.Add(NationalIdentifier(new TypedId(IdType.SePersonalNumber, se)));
        }

        if (patient.NoPersonalNumber is { } no)
        {
            fhir.Identifier.Add(NationalIdentifier(new TypedId(IdType.NoPersonalNumber, no)));
        }

        if (patient.NhsNumber is { } nhs)
        {
            fhir.Identifier.Add(NationalIdentifier(new TypedId(IdType.NhsNumber, nhs)));
        }

        FillPatient(fhir, patient.FirstName, patient.LastName, patient.BirthDate, patient.Gender, patient.Phones, patient.Emails, patient.Address);
        if (patient.CareUnitId.Length > 0)
        {
            fhir.Extension.Add(new F.Extension(FhirSystems.RegisteredAtExtension, new F.ResourceReference("Location/" + ids.Other(patient.CareUnitId))));
        }

        return fhir;
    }

    /// <summary>A new patient as it is sent to a FHIR server.</summary>
    public static F.Patient ToFhir(NewPatient patient, string careUnitId)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var fhir = new F.Patient();
        if (patient.NationalId is { } nid)
        {
            fhir.Identifier.Add(NationalIdentifier(nid));
        }

        var birthDate = patient.BirthDateOrDerived;
        var gender = patient.GenderOrDerived;
        FillPatient(fhir, patient.FirstName, patient.LastName, birthDate, gender, patient.Phones, patient.Emails, patient.Address);
        fhir.Extension.Add(new F.Extension(FhirSystems.RegisteredAtExtension, new F.ResourceReference("Location/" + careUnitId)));
        return fhir;
    }

    /// <summary>
    /// <paramref name="change"/> applied to a Patient as read: the official (else first) name's given and
    /// family parts, every phone or every e-mail contact point, the addresses. Everything else the
    /// record holds (identifiers, other names, other contact points, extensions) stays as it was.
    /// </summary>
    public static void Apply(F.Patient fhir, PatientChange change)
    {
        ArgumentNullException.ThrowIfNull(fhir);
        ArgumentNullException.ThrowIfNull(change);
        if (change.FirstName is not null || change.LastName is not null)
        {
            var name = fhir.Name.FirstOrDefault(n => n.Use is F.HumanName.NameUse.Official) ?? fhir.Name.FirstOrDefault();
            if (name is null)
            {
                name = new F.HumanName { Use = F.HumanName.NameUse.Official };
                fhir.Name.Add(name);
            }

            if (change.FirstName is { } first)
            {
                name.Given = first.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }

            if (change.LastName is { } last)
            {
                name.Family = last;
            }

            // The text, where the record has one, would still read the old name.
            name.Text = null;
        }

        Replace(fhir, F.ContactPoint.ContactPointSystem.Phone, change.Phones);
        Replace(fhir, F.ContactPoint.ContactPointSystem.Email, change.Emails);
        if (change.Address is not null)
        {
            fhir.Address.Clear();
            if (change.AddressAfter(null) is { } address)
            {
                fhir.Address.Add(new F.Address
                {
                    Line = address.Street is null ? [] : [address.Street],
                    PostalCode = address.PostalCode,
                    City = address.City,
                    Country = address.Country,
                });
            }
        }
    }

    private static void Replace(F.Patient fhir, F.ContactPoint.ContactPointSystem system, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            return;
        }

        fhir.Telecom.RemoveAll(t => t.System == system);
        var rank = fhir.Telecom.Select(t => t.Rank ?? 0).DefaultIfEmpty(0).Max() + 1;
        foreach (var value in values)
        {
            fhir.Telecom.Add(new F.ContactPoint(system, null, value) { Rank = rank++ });
        }
    }

    public static Patient ToPatient(F.Patient patient)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var name = patient.Name.FirstOrDefault(n => n.Use is F.HumanName.NameUse.Official) ?? patient.Name.FirstOrDefault();
        var se = IdentifierValue(patient.Identifier, FhirSystems.SePersonalNumber) ?? IdentifierValue(patient.Identifier, FhirSystems.SeCoordinationNumber);
        var no = IdentifierValue(patient.Identifier, FhirSystems.NoPersonalNumber) ?? IdentifierValue(patient.Identifier, FhirSystems.NoDNumber);
        var nhs = IdentifierValue(patient.Identifier, FhirSystems.NhsNumber);
        var external = se is not null ? new TypedId(IdType.SePersonalNumber, se)
            : no is not null ? new TypedId(IdType.NoPersonalNumber, no)
            : nhs is not null ? new TypedId(IdType.NhsNumber, nhs)
            : (TypedId?)null;
        var address = patient.Address.FirstOrDefault();
        var registeredAt = FhirIds.OfReference(ExtensionValue<F.ResourceReference>(patient.Extension, FhirSystems.RegisteredAtExtension)?.Reference, "Location");
        var updated = patient.Meta?.LastUpdated ?? DateTimeOffset.UnixEpoch;
        return new Patient(
            patient.Id ?? string.Empty,
            registeredAt ?? string.Empty,
            name is null ? string.Empty : string.Join(' ', name.Given),
            name?.Family ?? string.Empty,
            DateOnly.TryParseExact(patient.BirthDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var birth) ? birth : null,
            patient.Gender switch
            {
                F.AdministrativeGender.Male => "male",
                F.AdministrativeGender.Female => "female",
                F.AdministrativeGender.Other => "other",
                F.AdministrativeGender.Unknown => "unknown",
                _ => null,
            },
            se,
            no,
            nhs,
            external?.ToString(),
            patient.Telecom.Where(t => t.System == F.ContactPoint.ContactPointSystem.Phone && t.Value is not null).Select(t => t.Value!).ToList(),
            patient.Telecom.Where(t => t.System == F.ContactPoint.ContactPointSystem.Email && t.Value is not null).Select(t => t.Value!).ToList(),
            address is null ? null : new PostalAddress(address.Line.FirstOrDefault(), address.PostalCode, address.City, address.Country),
            updated,
            updated);
    }

    /// <summary>The identifier a national id is known by: the system depends on the kind of number.</summary>
    public static F.Identifier NationalIdentifier(TypedId id)
    {
        var system = id.Type switch
        {
            IdType.SePersonalNumber => SwedishPersonalNumber.IsCoordinationNumber(id.Value) ? FhirSystems.SeCoordinationNumber : FhirSystems.SePersonalNumber,
            IdType.NoPersonalNumber => id.Value[0] >= '4' ? FhirSystems.NoDNumber : FhirSystems.NoPersonalNumber,
            IdType.NhsNumber => FhirSystems.NhsNumber,
            IdType.HsaId => FhirSystems.HsaId,
            _ => throw new ArgumentException("Not a national id or HSA id.", nameof(id)),
        };
        return new F.Identifier(system, id.Value) { Use = F.Identifier.IdentifierUse.Official };
    }

    // ---- timeslots ↔ Slot ----------------------------------------------------------------------

    public static F.Slot ToFhir(Timeslot slot, FhirIdMap ids)
    {
        ArgumentNullException.ThrowIfNull(slot);
        ArgumentNullException.ThrowIfNull(ids);
        var key = string.Create(CultureInfo.InvariantCulture, $"{slot.CareUnitId}|{slot.ResourceId}|{slot.HealthcareServiceId}|{slot.Start.UtcTicks}|{slot.End.UtcTicks}");
        var fhir = new F.Slot
        {
            Id = "slot-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 16)),
            Schedule = new F.ResourceReference("Schedule/" + ids.Other(slot.ResourceId)),
            Status = F.Slot.SlotStatus.Free,
            Start = slot.Start,
            End = slot.End,
        };
        if (slot.HealthcareServiceId is { } service)
        {
            fhir.ServiceType.Add(new F.CodeableConcept { Coding = [new F.Coding(FhirSystems.EmrId(ids.Emr ?? "fhir") + ":healthcare-service", service)] });
        }

        return fhir;
    }

    // ---- appointments ↔ Appointment ------------------------------------------------------------

    public static F.Appointment ToFhir(Appointment appointment, FhirIdMap ids)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        ArgumentNullException.ThrowIfNull(ids);
        var fhir = new F.Appointment
        {
            Id = ids.Other(appointment.Id),
            Meta = new F.Meta { LastUpdated = appointment.UpdatedAt },
            Status = appointment.Status switch
            {
                AppointmentStatuses.AwaitingConfirmation => F.Appointment.AppointmentStatus.Pending,
                AppointmentStatuses.Cancelled => F.Appointment.AppointmentStatus.Cancelled,
                AppointmentStatuses.Completed => F.Appointment.AppointmentStatus.Fulfilled,
                _ => F.Appointment.AppointmentStatus.Booked,
            },
            Start = appointment.Start,
            End = appointment.End,
            Comment = appointment.Comment,
            Created = new F.FhirDateTime(appointment.CreatedAt).Value,
        };
        AddEmrId(fhir.Identifier, ids, appointment.Id);
        fhir.Participant.Add(Participant("Patient/" + ids.Patient(appointment.PatientEmrId)));
        fhir.Participant.Add(Participant("Practitioner/" + ids.Other(appointment.ResourceId)));
        fhir.Participant.Add(Participant("Location/" + ids.Other(appointment.CareUnitId)));
        if (appointment.HealthcareServiceId is { } service)
        {
            fhir.Participant.Add(Participant("HealthcareService/" + ids.Other(service)));
        }

        return fhir;
    }

    /// <summary>A booking as sent to a FHIR server, holding <paramref name="slotId"/>.</summary>
    public static F.Appointment ToFhir(string careUnitId, NewAppointment appointment, string resourceId, string? serviceId, string slotId, string bookingKey, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        var fhir = new F.Appointment
        {
            Status = F.Appointment.AppointmentStatus.Booked,
            Start = appointment.Start,
            End = appointment.End,
            Comment = appointment.Comment,
            Created = new F.FhirDateTime(now).Value,
            Slot = [new F.ResourceReference("Slot/" + slotId)],
            Identifier = [new F.Identifier(FhirSystems.Booking, bookingKey)],
        };
        fhir.Participant.Add(Participant("Patient/" + appointment.PatientEmrId));
        fhir.Participant.Add(Participant("Practitioner/" + resourceId));
        fhir.Participant.Add(Participant("Location/" + careUnitId));
        if (serviceId is not null)
        {
            fhir.Participant.Add(Participant("HealthcareService/" + serviceId));
        }

        return fhir;
    }

    /// <summary>A booked appointment whose end has passed is <c>completed</c> (API.md §5).</summary>
    public static Appointment ToAppointment(F.Appointment appointment, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        string? Actor(string type) => appointment.Participant.Select(p => FhirIds.OfReference(p.Actor?.Reference, type)).FirstOrDefault(id => id is not null);
        var start = appointment.Start ?? DateTimeOffset.UnixEpoch;
        var end = appointment.End ?? start;
        var status = appointment.Status switch
        {
            F.Appointment.AppointmentStatus.Proposed or F.Appointment.AppointmentStatus.Pending or F.Appointment.AppointmentStatus.Waitlist => AppointmentStatuses.AwaitingConfirmation,
            F.Appointment.AppointmentStatus.Cancelled or F.Appointment.AppointmentStatus.Noshow or F.Appointment.AppointmentStatus.EnteredInError => AppointmentStatuses.Cancelled,
            F.Appointment.AppointmentStatus.Fulfilled or F.Appointment.AppointmentStatus.Arrived or F.Appointment.AppointmentStatus.CheckedIn => AppointmentStatuses.Completed,
            _ => end <= now ? AppointmentStatuses.Completed : AppointmentStatuses.Booked,
        };
        var updated = appointment.Meta?.LastUpdated ?? start;
        return new Appointment(
            appointment.Id ?? string.Empty,
            Actor("Location") ?? string.Empty,
            Actor("Patient") ?? string.Empty,
            Actor("Practitioner") ?? Actor("Device") ?? string.Empty,
            Actor("HealthcareService"),
            start,
            end,
            status,
            appointment.Comment,
            Instant(appointment.Created) ?? updated,
            updated);
    }

    // ---- medical notes ↔ DocumentReference -----------------------------------------------------

    public static F.DocumentReference ToFhir(MedicalNote note, FhirIdMap ids)
    {
        ArgumentNullException.ThrowIfNull(note);
        ArgumentNullException.ThrowIfNull(ids);
        var fhir = NoteReference(note.TemplateId, note.Title, note.Content, note.PatientEmrId, note.CareUnitId, note.CreatedById, note.CreatedAt, ids);
        fhir.Id = ids.Other(note.Id);
        fhir.DocStatus = note.IsSigned ? F.CompositionStatus.Final : F.CompositionStatus.Preliminary;
        if (note.SignedAt is { } signed)
        {
            fhir.Extension.Add(new F.Extension(FhirSystems.SignedAtExtension, new F.Instant(signed)));
        }

        AddEmrId(fhir.Identifier, ids, note.Id);
        return fhir;
    }

    /// <summary>A new note as sent to a FHIR server: unsigned (<c>docStatus</c> preliminary).</summary>
    public static F.DocumentReference ToFhir(string careUnitId, NewMedicalNote note, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(note);
        var fhir = NoteReference(note.TemplateId, note.Title, note.Content, note.PatientEmrId, careUnitId, note.CreatedById, now, FhirIdMap.Server);
        fhir.DocStatus = F.CompositionStatus.Preliminary;
        return fhir;
    }

    public static bool IsMedicalNote(F.DocumentReference reference) => HasKind(reference, FhirSystems.MedicalNoteKind);

    public static bool IsDocument(F.DocumentReference reference) => HasKind(reference, FhirSystems.DocumentKindCode);

    /// <summary>The note, or null when the reference does not carry a Vardbro note's content.</summary>
    public static MedicalNote? ToNote(F.DocumentReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var template = reference.Type?.Coding.FirstOrDefault(c => c.System == FhirSystems.NoteTemplate)?.Code;
        // The fields: the JSON attachment, or (on servers that take only document types) the one titled as such.
        var json = reference.Content.Select(c => c.Attachment).FirstOrDefault(a => (a?.ContentType == FhirSystems.NoteContentType || a?.Title == FhirSystems.NoteContentTitle) && a.Data is not null);
        if (template is null || json is null)
        {
            return null;
        }

        Dictionary<string, string>? content;
        try
        {
            content = JsonSerializer.Deserialize<Dictionary<string, string>>(json.Data);
        }
        catch (JsonException)
        {
            return null;
        }

        var signed = reference.DocStatus is F.CompositionStatus.Final or F.CompositionStatus.Amended;
        return new MedicalNote(
            reference.Id ?? string.Empty,
            FhirIds.OfReference(reference.Subject?.Reference, "Patient") ?? string.Empty,
            CareUnitOf(reference) ?? string.Empty,
            template,
            reference.Description ?? string.Empty,
            content ?? [],
            reference.Author.Select(a => FhirIds.OfReference(a.Reference, "Practitioner")).FirstOrDefault(a => a is not null) ?? string.Empty,
            reference.Date ?? reference.Meta?.LastUpdated ?? DateTimeOffset.UnixEpoch,
            signed,
            signed ? ExtensionValue<F.Instant>(reference.Extension, FhirSystems.SignedAtExtension)?.Value ?? reference.Meta?.LastUpdated : null);
    }

    // ---- documents ↔ DocumentReference + Binary ------------------------------------------------

    public static F.DocumentReference ToFhir(DocumentInfo document, FhirIdMap ids, string contentUrl)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(ids);
        var fhir = DocumentReference(document.Title, document.Type, document.Format, document.SizeBytes, document.Sha256, contentUrl, document.PatientEmrId, document.CareUnitId, document.CreatedById, document.CreatedAt, ids);
        fhir.Id = ids.Other(document.Id);
        AddEmrId(fhir.Identifier, ids, document.Id);
        return fhir;
    }

    /// <summary>A new document's reference as sent to a FHIR server; its bytes are in <c>Binary/binaryId</c>.</summary>
    public static F.DocumentReference ToFhir(string careUnitId, NewDocument document, ReadOnlySpan<byte> content, string binaryId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(document);
        var fhir = DocumentReference(document.Title, document.Type, document.Format, document.Content.Length, document.Sha256, "Binary/" + binaryId, document.PatientEmrId, careUnitId, document.CreatedById, now, FhirIdMap.Server);
#pragma warning disable CA5350 // Attachment.hash is SHA-1 by definition in FHIR R4; SHA-256 travels in an extension.
        fhir.Content[0].Attachment.Hash = SHA1.HashData(content);
#pragma warning restore CA5350
        return fhir;
    }

    public static DocumentInfo ToDocument(F.DocumentReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var attachment = reference.Content.Select(c => c.Attachment).FirstOrDefault(a => a is not null);
        return new DocumentInfo(
            reference.Id ?? string.Empty,
            FhirIds.OfReference(reference.Subject?.Reference, "Patient") ?? string.Empty,
            CareUnitOf(reference) ?? string.Empty,
            reference.Description ?? attachment?.Title ?? string.Empty,
            reference.Type?.Coding.FirstOrDefault(c => c.System == FhirSystems.DocumentType)?.Code ?? reference.Type?.Text ?? string.Empty,
            attachment?.ContentType is { } type && DocumentFormats.TryNormalize(type, out var format) ? format : attachment?.ContentType ?? string.Empty,
            SizeOf(attachment) ?? attachment?.Data?.LongLength ?? 0,
            (attachment is null ? null : ExtensionValue<F.FhirString>(attachment.Extension, FhirSystems.Sha256Extension)?.Value) ?? string.Empty,
            reference.Author.Select(a => FhirIds.OfReference(a.Reference, "Practitioner")).FirstOrDefault(a => a is not null) ?? string.Empty,
            reference.Date ?? reference.Meta?.LastUpdated ?? DateTimeOffset.UnixEpoch);
    }

    /// <summary>The <c>Binary</c> id a document's attachment points at, if it points at one.</summary>
    public static string? BinaryId(F.DocumentReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return reference.Content.Select(c => FhirIds.OfReference(c.Attachment?.Url, "Binary")).FirstOrDefault(id => id is not null);
    }

    // ---- bundles -------------------------------------------------------------------------------

    /// <summary>
    /// A <c>searchset</c> of <paramref name="entries"/>, each under its <c>fullUrl</c>; <paramref name="next"/>
    /// is the next page's URL. <c>total</c> is the number of matches, so it is set only when
    /// <paramref name="complete"/> says the entries are all of them (no page before or after).
    /// </summary>
    public static F.Bundle Searchset(IEnumerable<(F.Resource Resource, string FullUrl)> entries, string self, string? next, bool complete)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var bundle = new F.Bundle { Type = F.Bundle.BundleType.Searchset, Id = Guid.NewGuid().ToString("N") };
        foreach (var (resource, fullUrl) in entries)
        {
            bundle.Entry.Add(new F.Bundle.EntryComponent
            {
                FullUrl = fullUrl,
                Resource = resource,
                Search = new F.Bundle.SearchComponent { Mode = F.Bundle.SearchEntryMode.Match },
            });
        }

        bundle.Link.Add(new F.Bundle.LinkComponent { Relation = "self", Url = self });
        if (next is not null)
        {
            bundle.Link.Add(new F.Bundle.LinkComponent { Relation = "next", Url = next });
        }

        if (complete && next is null)
        {
            bundle.Total = bundle.Entry.Count;
        }

        return bundle;
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static void AddEmrId(List<F.Identifier> identifiers, FhirIdMap ids, string emrId)
    {
        if (ids.Emr is { } emr)
        {
            identifiers.Add(new F.Identifier(FhirSystems.EmrId(emr), emrId));
        }
    }

    private static void FillPatient(
        F.Patient fhir, string firstName, string lastName, DateOnly? birthDate, string? gender,
        IReadOnlyList<string> phones, IReadOnlyList<string> emails, PostalAddress? address)
    {
        fhir.Name = [new F.HumanName { Use = F.HumanName.NameUse.Official, Family = lastName, Given = firstName.Split(' ', StringSplitOptions.RemoveEmptyEntries) }];
        fhir.BirthDate = birthDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        fhir.Gender = gender switch
        {
            "male" => F.AdministrativeGender.Male,
            "female" => F.AdministrativeGender.Female,
            "other" => F.AdministrativeGender.Other,
            "unknown" => F.AdministrativeGender.Unknown,
            _ => null,
        };
        var rank = 1;
        foreach (var phone in phones)
        {
            fhir.Telecom.Add(new F.ContactPoint(F.ContactPoint.ContactPointSystem.Phone, null, phone) { Rank = rank++ });
        }

        foreach (var email in emails)
        {
            fhir.Telecom.Add(new F.ContactPoint(F.ContactPoint.ContactPointSystem.Email, null, email) { Rank = rank++ });
        }

        if (address is not null)
        {
            fhir.Address.Add(new F.Address
            {
                Line = address.Street is null ? [] : [address.Street],
                PostalCode = address.PostalCode,
                City = address.City,
                Country = address.Country,
            });
        }
    }

    private static F.DocumentReference NoteReference(
        string templateId, string title, IReadOnlyDictionary<string, string> content, string patientEmrId, string careUnitId, string createdById, DateTimeOffset createdAt, FhirIdMap ids)
    {
        var fields = NoteTemplates.Find(templateId)?.Fields.Select(f => f.Name).ToList() ?? [];
        var ordered = content.OrderBy(kv => fields.IndexOf(kv.Key) is var i and >= 0 ? i : int.MaxValue).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var text = new StringBuilder(title).Append("\n\n");
        foreach (var (key, value) in ordered)
        {
            text.Append(key).Append(":\n").Append(value).Append("\n\n");
        }

        var fhir = Reference(FhirSystems.MedicalNoteKind, patientEmrId, careUnitId, createdById, createdAt, ids);
        fhir.Type = new F.CodeableConcept { Coding = [new F.Coding(FhirSystems.NoteTemplate, templateId)], Text = NoteTemplates.Find(templateId)?.Name };
        fhir.Description = title;
        fhir.Content.Add(new F.DocumentReference.ContentComponent
        {
            Attachment = new F.Attachment { ContentType = "text/plain; charset=utf-8", Title = title, Data = Encoding.UTF8.GetBytes(text.ToString().TrimEnd()) },
        });
        fhir.Content.Add(new F.DocumentReference.ContentComponent
        {
            Attachment = new F.Attachment { ContentType = FhirSystems.NoteContentType, Title = FhirSystems.NoteContentTitle, Data = JsonSerializer.SerializeToUtf8Bytes(ordered.ToDictionary(kv => kv.Key, kv => kv.Value)) },
        });
        return fhir;
    }

    private static F.DocumentReference DocumentReference(
        string title, string type, string format, long size, string sha256, string url, string patientEmrId, string careUnitId, string createdById, DateTimeOffset createdAt, FhirIdMap ids)
    {
        var fhir = Reference(FhirSystems.DocumentKindCode, patientEmrId, careUnitId, createdById, createdAt, ids);
        fhir.DocStatus = F.CompositionStatus.Final;
        fhir.Type = new F.CodeableConcept { Coding = [new F.Coding(FhirSystems.DocumentType, type)], Text = type };
        fhir.Description = title;
        var attachment = new F.Attachment { ContentType = format, Url = url, SizeElement = R4Size(size), Title = title };
        attachment.Extension.Add(new F.Extension(FhirSystems.Sha256Extension, new F.FhirString(sha256)));
        fhir.Content.Add(new F.DocumentReference.ContentComponent { Attachment = attachment });
        return fhir;
    }

    /// <summary>
    /// <c>Attachment.size</c> as R4 has it: an <c>unsignedInt</c>, a JSON number. The SDK's
    /// <c>Attachment.Size</c> setter stores R5's <c>integer64</c>, which is written as a JSON string that
    /// R4 readers (Firely's own strict mode included) refuse; above 2^31 − 1 R4 cannot say it at all.
    /// </summary>
    private static F.UnsignedInt? R4Size(long size) => size is >= 0 and <= int.MaxValue ? new F.UnsignedInt((int)size) : null;

    /// <summary>
    /// The size an attachment states, whatever primitive carries it. The SDK's <c>Attachment.Size</c>
    /// getter assumes R5's <c>integer64</c> and throws on the <c>unsignedInt</c> an R4 answer parses to.
    /// </summary>
    private static long? SizeOf(F.Attachment? attachment) => attachment?.SizeElement switch
    {
        F.UnsignedInt { Value: { } value } => value,
        F.Integer64 { Value: { } value } => value,
        F.Integer { Value: { } value } => value,
        _ => null,
    };

    private static F.DocumentReference Reference(string kind, string patientEmrId, string careUnitId, string createdById, DateTimeOffset createdAt, FhirIdMap ids) => new()
    {
        Status = F.DocumentReferenceStatus.Current,
        Category = [new F.CodeableConcept { Coding = [new F.Coding(FhirSystems.DocumentKind, kind)] }],
        Subject = new F.ResourceReference("Patient/" + ids.Patient(patientEmrId)),
        Date = createdAt,
        Author = [new F.ResourceReference("Practitioner/" + ids.Other(createdById))],
        Context = new F.DocumentReference.ContextComponent { Related = [new F.ResourceReference("Location/" + ids.Other(careUnitId))] },
    };

    private static bool HasKind(F.DocumentReference reference, string kind) =>
        reference.Category.Any(c => c.Coding.Any(x => x.System == FhirSystems.DocumentKind && x.Code == kind));

    private static string? CareUnitOf(F.DocumentReference reference) =>
        reference.Context?.Related.Select(r => FhirIds.OfReference(r.Reference, "Location")).FirstOrDefault(id => id is not null);

    private static F.Appointment.ParticipantComponent Participant(string reference) => new()
    {
        Actor = new F.ResourceReference(reference),
        Status = F.ParticipationStatus.Accepted,
    };

    private static F.HumanName PersonName(string name)
    {
        var parts = name.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new F.HumanName { Text = name, Family = parts.Length > 1 ? parts[^1] : name, Given = parts.Length > 1 ? parts[..^1] : [] };
    }

    private static string? NameText(List<F.HumanName> names)
    {
        var name = names.FirstOrDefault();
        if (name is null)
        {
            return null;
        }

        return name.Text ?? string.Join(' ', name.Given.Append(name.Family).Where(x => !string.IsNullOrEmpty(x)));
    }

    private static string? AddressText(F.Address? address)
    {
        if (address is null)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(address.Text))
        {
            return address.Text;
        }

        var place = string.Join(' ', new[] { address.PostalCode, address.City }.Where(x => !string.IsNullOrEmpty(x)));
        var parts = address.Line.Append(place).Where(x => !string.IsNullOrEmpty(x)).ToList();
        return parts.Count == 0 ? null : string.Join(", ", parts);
    }

    private static string? StringExtension(F.DomainResource resource, string url) => ExtensionValue<F.FhirString>(resource.Extension, url)?.Value;

    private static T? ExtensionValue<T>(List<F.Extension> extensions, string url)
        where T : F.DataType => extensions.FirstOrDefault(e => e.Url == url)?.Value as T;

    private static string? IdentifierValue(List<F.Identifier> identifiers, string system) =>
        identifiers.FirstOrDefault(i => i.System == system && !string.IsNullOrEmpty(i.Value))?.Value;

    private static string? ConceptText(F.CodeableConcept? concept) =>
        concept is null ? null : concept.Text ?? concept.Coding.Select(c => c.Display).FirstOrDefault(d => d is not null);

    private static F.CodeableConcept Concept(string system, string code, string display) =>
        new() { Coding = [new F.Coding(system, code, display)], Text = display };

    private static DateTimeOffset? Instant(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant) ? instant : null;
}
