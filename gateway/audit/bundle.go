package audit

import (
	"fmt"
	"time"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// BundleType is the type of a trail Bundle.
type BundleType string

// The Bundle types a trail is served as.
const (
	// Collection: a trail, as exported or verified offline.
	Collection BundleType = "collection"
	// Searchset: one page of a trail query; the entries are matches.
	Searchset BundleType = "searchset"
)

// Link is a Bundle link (a searchset's "self", "next").
type Link struct {
	Relation string
	URL      string
}

// BundleOptions say how to wrap a trail.
type BundleOptions struct {
	// Type is Collection (the default) or Searchset.
	Type BundleType
	// Timestamp is when the Bundle was assembled (none when zero).
	Timestamp time.Time
	// Total is, for a searchset, the number of matching entries across all
	// pages (negative: unknown, left out). A collection has none (0).
	Total int
	// Links are a searchset's paging links.
	Links []Link
}

// Bundle wraps the FHIR resources of a trail, in order: for each entry its
// AuditEvents, then its Provenance when it has one. Every resource's
// fullUrl is "urn:uuid:" and its id.
func (c *Converter) Bundle(entries []Entry, opt BundleOptions) ([]byte, error) {
	b := &bcrpb.Bundle{Type: &bcrpb.Bundle_TypeCode{Value: cpb.BundleTypeCode_COLLECTION}}
	search := false
	switch opt.Type {
	case "", Collection:
		if opt.Total > 0 || len(opt.Links) > 0 {
			return nil, fmt.Errorf("audit: a collection has no total or paging links")
		}
	case Searchset:
		b.Type.Value, search = cpb.BundleTypeCode_SEARCHSET, true
		if opt.Total >= 0 {
			b.Total = &dtpb.UnsignedInt{Value: uint32(opt.Total)}
		}
		for _, l := range opt.Links {
			if l.Relation == "" || l.URL == "" {
				return nil, fmt.Errorf("audit: a link needs a relation and a URL")
			}
			b.Link = append(b.Link, &bcrpb.Bundle_Link{Relation: str(l.Relation), Url: &dtpb.Uri{Value: l.URL}})
		}
	default:
		return nil, fmt.Errorf("audit: bundle type %q: want collection or searchset", truncate(string(opt.Type), 32))
	}
	if !opt.Timestamp.IsZero() {
		b.Timestamp = instant(opt.Timestamp)
	}
	ids := []string{"Bundle", string(opt.Type)}
	add := func(id string, r *bcrpb.ContainedResource) {
		e := &bcrpb.Bundle_Entry{FullUrl: &dtpb.Uri{Value: "urn:uuid:" + id}, Resource: r}
		if search {
			e.Search = &bcrpb.Bundle_Entry_Search{Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: cpb.SearchEntryModeCode_MATCH}}
		}
		b.Entry = append(b.Entry, e)
		ids = append(ids, id)
	}
	for i := range entries {
		evs, err := c.auditEvents(&entries[i])
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		for _, ev := range evs {
			add(ev.Id.Value, &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_AuditEvent{AuditEvent: ev}})
		}
		p, err := c.provenance(&entries[i])
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if p != nil {
			add(p.Id.Value, &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Provenance{Provenance: p}})
		}
	}
	b.Id = &dtpb.Id{Value: ResourceID(ids...)}
	out, err := c.m.MarshalResource(b)
	if err != nil {
		return nil, fmt.Errorf("audit: marshal Bundle: %w", err)
	}
	return out, nil
}
