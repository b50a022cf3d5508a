using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>Patients of the built-in EHR: find, search (paged), create-or-return.</summary>
public sealed partial class LocalConnector
{
    public async Task<Patient?> FindPatientAsync(TypedId patientId, CancellationToken cancellationToken) =>
        await reads.FindPatientAsync(patientId, cancellationToken) is { } row ? ToRecord(row) : null;

    public async Task<PatientPage> SearchPatientsAsync(PatientQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        PatientKey? after = null;
        if (cursor is not null)
        {
            var parts = Cursors.Decode(cursor, 3);
            after = new PatientKey(parts[0], parts[1], parts[2]);
        }

        var page = await reads.SearchPatientsAsync(query, limit + 1, after, cancellationToken);
        var more = page.Count > limit;
        if (more)
        {
            page.RemoveAt(page.Count - 1);
        }

        var next = more ? Cursors.Encode(page[^1].FoldedLastName, page[^1].FoldedFirstName, page[^1].EmrId) : null;
        return new PatientPage(page.ConvertAll(ToRecord), next);
    }

    public async Task<PatientCreation> CreateOrReturnPatientAsync(string careUnitId, NewPatient patient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var foldedFirst = TextFolding.Fold(patient.FirstName);
        var foldedLast = TextFolding.Fold(patient.LastName);
        var lockKey = patient.NationalId is { } nid
            ? $"patient/{emr}/{nid}"
            : $"patient/{emr}/{foldedLast}/{foldedFirst}/{patient.BirthDate:O}";

        return await SerializedWrites.RunAsync(db, lockKey, async () =>
        {
            var existing = await FindMatchAsync(patient, foldedFirst, foldedLast, cancellationToken);
            if (existing is not null)
            {
                return new PatientCreation(ToRecord(existing), Created: false);
            }

            var now = Now();
            var row = new PatientRow
            {
                Emr = emr,
                EmrId = NewId("pat_"),
                CareUnitId = careUnitId,
                FirstName = patient.FirstName,
                LastName = patient.LastName,
                FoldedFirstName = foldedFirst,
                FoldedLastName = foldedLast,
                BirthDate = patient.BirthDate,
                Gender = patient.Gender,
                Street = patient.Address?.Street,
                PostalCode = patient.Address?.PostalCode,
                City = patient.Address?.City,
                Country = patient.Address?.Country,
                CreatedAt = now,
                UpdatedAt = now,
            };
            if (patient.NationalId is { } id)
            {
                SetNationalId(row, id);
            }

            AddContacts(row, patient.Phones, patient.Emails);
            Announce(ChangeEventTypes.PatientCreated, careUnitId, ChangeSubjects.Patient, row.EmrId, now);
            await AddAsync(row, cancellationToken);
            return new PatientCreation(ToRecord(row), Created: true);
        }, cancellationToken);
    }

    public async Task<Patient?> UpdatePatientAsync(string patientEmrId, PatientChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);

        // The create-or-return of the same person takes its lock by national id or names; an update
        // changes one known row, so the row's own lock keeps two updates of it in order.
        return await SerializedWrites.RunAsync(db, $"patient-row/{emr}/{patientEmrId}", async () =>
        {
            var row = await db.Set<PatientRow>().Include(x => x.Contacts)
                .FirstOrDefaultAsync(x => x.Emr == emr && x.EmrId == patientEmrId, cancellationToken);
            if (row is null)
            {
                return null;
            }

            if (change.FirstName is { } first)
            {
                row.FirstName = first;
                row.FoldedFirstName = TextFolding.Fold(first);
            }

            if (change.LastName is { } last)
            {
                row.LastName = last;
                row.FoldedLastName = TextFolding.Fold(last);
            }

            if (change.Phones is not null || change.Emails is not null)
            {
                var phones = change.Phones ?? Kept(row, LocalEhrModel.Phone);
                var emails = change.Emails ?? Kept(row, LocalEhrModel.Email);
                db.RemoveRange(row.Contacts);
                row.Contacts.Clear();
                AddContacts(row, phones, emails);
            }

            var address = change.AddressAfter(ToRecord(row).Address);
            row.Street = address?.Street;
            row.PostalCode = address?.PostalCode;
            row.City = address?.City;
            row.Country = address?.Country;
            row.UpdatedAt = Now();
            Announce(ChangeEventTypes.PatientUpdated, row.CareUnitId, ChangeSubjects.Patient, row.EmrId, row.UpdatedAt);
            await SaveAsync(cancellationToken);
            return ToRecord(row);
        }, cancellationToken);
    }

    private static List<string> Kept(PatientRow row, string kind) =>
        row.Contacts.Where(c => c.Kind == kind).OrderBy(c => c.Position).Select(c => c.Value).ToList();

    private static void SetNationalId(PatientRow row, TypedId id)
    {
        row.ExternalId = id.ToString();
        switch (id.Type)
        {
            case IdType.SePersonalNumber:
                row.SePersonalNumber = id.Value;
                row.BirthDate ??= SwedishPersonalNumber.BirthDate(id.Value);
                row.Gender ??= SwedishPersonalNumber.Gender(id.Value);
                break;
            case IdType.NoPersonalNumber:
                row.NoPersonalNumber = id.Value;
                row.BirthDate ??= NorwegianPersonalNumber.BirthDate(id.Value);
                row.Gender ??= NorwegianPersonalNumber.Gender(id.Value);
                break;
            case IdType.NhsNumber:
                row.NhsNumber = id.Value;
                break;
            default:
                throw new VardbroException(ErrorCodes.InvalidPatientId, "The external id must be a national id.", "external_id");
        }
    }

    private async Task<PatientRow?> FindMatchAsync(NewPatient patient, string foldedFirst, string foldedLast, CancellationToken cancellationToken)
    {
        var patients = db.Set<PatientRow>().AsNoTracking().Where(x => x.Emr == emr);
        if (patient.NationalId is { } nid)
        {
            var byId = LocalReads.ByTypedId(patients, nid);
            return byId is null ? null : await byId.Include(x => x.Contacts).FirstOrDefaultAsync(cancellationToken);
        }

        // Without a national id, a patient is the same one only with the same names, the same
        // birth date and at least one shared phone number or e-mail address.
        if (patient.BirthDate is not { } birthDate)
        {
            return null;
        }

        var phones = patient.Phones.Select(p => PhoneNumbers.Normalize(p)).OfType<string>().ToList();
        var emails = patient.Emails.Select(PhoneNumbers.NormalizeEmail).ToList();
        return await patients
            .Where(x => x.FoldedFirstName == foldedFirst && x.FoldedLastName == foldedLast && x.BirthDate == birthDate)
            .Where(p => db.Set<PatientContactRow>().Any(c => c.PatientKey == p.Key
                && ((c.Kind == LocalEhrModel.Phone && phones.Contains(c.Normalized))
                    || (c.Kind == LocalEhrModel.Email && emails.Contains(c.Normalized)))))
            .OrderBy(x => x.Key)
            .Include(x => x.Contacts)
            .FirstOrDefaultAsync(cancellationToken);
    }

    private static void AddContacts(PatientRow row, IReadOnlyList<string> phones, IReadOnlyList<string> emails)
    {
        var position = 0;
        foreach (var phone in phones)
        {
            row.Contacts.Add(new PatientContactRow { Kind = LocalEhrModel.Phone, Value = phone, Normalized = PhoneNumbers.Normalize(phone) ?? phone, Position = position++ });
        }

        foreach (var email in emails)
        {
            row.Contacts.Add(new PatientContactRow { Kind = LocalEhrModel.Email, Value = email, Normalized = PhoneNumbers.NormalizeEmail(email), Position = position++ });
        }
    }

    private static Patient ToRecord(PatientRow x)
    {
        var contacts = x.Contacts.OrderBy(c => c.Position).ToList();
        var address = x.Street is null && x.PostalCode is null && x.City is null && x.Country is null
            ? null
            : new PostalAddress(x.Street, x.PostalCode, x.City, x.Country);
        return new Patient(
            x.EmrId, x.CareUnitId, x.FirstName, x.LastName, x.BirthDate, x.Gender,
            x.SePersonalNumber, x.NoPersonalNumber, x.NhsNumber, x.ExternalId,
            contacts.Where(c => c.Kind == LocalEhrModel.Phone).Select(c => c.Value).ToList(),
            contacts.Where(c => c.Kind == LocalEhrModel.Email).Select(c => c.Value).ToList(),
            address, x.CreatedAt, x.UpdatedAt);
    }
}
