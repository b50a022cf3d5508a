namespace Vardbro.Connectors;

/// <summary>Care units, resources and healthcare services: the EHR's master data, read side.</summary>
public interface ICareUnitDirectory
{
    Task<IReadOnlyList<CareUnit>> ListCareUnitsAsync(CancellationToken cancellationToken);

    Task<CareUnit?> GetCareUnitAsync(string careUnitId, CancellationToken cancellationToken);

    Task<IReadOnlyList<Resource>> ListResourcesAsync(string careUnitId, CancellationToken cancellationToken);

    /// <summary>A resource of that care unit by any typed id; absent → null.</summary>
    Task<Resource?> FindResourceAsync(string careUnitId, TypedId resourceId, CancellationToken cancellationToken);

    Task<IReadOnlyList<HealthcareService>> ListHealthcareServicesAsync(string careUnitId, CancellationToken cancellationToken);
}

/// <summary>Patients of one EHR. Patients belong to the EHR, not to a care unit.</summary>
public interface IPatientDirectory
{
    Task<Patient?> FindPatientAsync(TypedId patientId, CancellationToken cancellationToken);

    /// <summary>
    /// Sorted by folded last name, folded first name, EHR id. <paramref name="cursor"/> is one the
    /// previous page returned; a cursor this connector cannot read is an <c>INVALID_FIELD</c> refusal.
    /// </summary>
    Task<PatientPage> SearchPatientsAsync(PatientQuery query, int limit, string? cursor, CancellationToken cancellationToken);

    /// <summary>Returns the patient that already matches, or creates one; concurrent identical calls create one.</summary>
    Task<PatientCreation> CreateOrReturnPatientAsync(string careUnitId, NewPatient patient, CancellationToken cancellationToken);
}

/// <summary>
/// Changes to a patient's names and contact details (a changed phone number is where the next
/// confirmation code goes). National ids and the EHR's id never change through the API.
/// </summary>
public interface IPatientUpdates
{
    /// <summary>Applies <paramref name="change"/> to the patient the EHR knows as <paramref name="patientEmrId"/>; null when it has none.</summary>
    Task<Patient?> UpdatePatientAsync(string patientEmrId, PatientChange change, CancellationToken cancellationToken);
}

/// <summary>Writes to the master data; only EHRs whose master data Vardbro owns offer it.</summary>
public interface IMasterDataAdmin
{
    Task<CareUnit> CreateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken);

    Task<CareUnit?> UpdateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken);

    /// <summary>False when absent; a refusal with status 409 when still referenced.</summary>
    Task<bool> DeleteCareUnitAsync(string careUnitId, CancellationToken cancellationToken);

    Task<Resource> CreateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken);

    Task<Resource?> UpdateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken);

    Task<bool> DeleteResourceAsync(string careUnitId, string resourceId, CancellationToken cancellationToken);

    Task<HealthcareService> CreateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken);

    Task<HealthcareService?> UpdateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken);

    Task<bool> DeleteHealthcareServiceAsync(string careUnitId, string serviceId, CancellationToken cancellationToken);
}

/// <summary>Readiness of the EHR back end, for <c>/readyz</c>.</summary>
public interface IHealthProbe
{
    Task<bool> IsReachableAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Marks a connector whose records live in Vardbro's own database (the built-in EHR), not in an
/// EHR elsewhere: the sandbox seeds only such EMRs, never a remote system it would write test data to.
/// </summary>
public interface ISelfHostedEhr;
