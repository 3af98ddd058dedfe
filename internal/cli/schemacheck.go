package cli

import (
	"context"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// SchemaChecker validates custom resources offline the way the API server
// does on create: it prunes unknown fields, applies structural defaults,
// runs the OpenAPI schema validator, the list-type checks and the CEL rules,
// all with the API server's own code, so field paths and reasons match.
// Transition rules (those reading oldSelf) cannot run without a stored
// object and are skipped, exactly as on create.
type SchemaChecker struct {
	kinds map[schema.GroupVersionKind]*kindSchema
}

// kindSchema holds the compiled validators of one served version of a CRD.
type kindSchema struct {
	structural  *structuralschema.Structural
	openAPI     apiservervalidation.SchemaValidator
	rules       *cel.Validator
	namespaced  bool
	dropsStatus bool
}

// CheckResult is the outcome of checking one object.
type CheckResult struct {
	// Errors are the API server's field errors, in its order.
	Errors field.ErrorList
	// UnknownFields are paths the API server would prune; `kubectl apply`
	// (strict field validation, its default) refuses them.
	UnknownFields []string
	// Object is the object as the API server would store it: pruned and
	// with the schema's defaults applied.
	Object *unstructured.Unstructured
}

// Valid reports whether the API server would accept the object.
func (r CheckResult) Valid() bool { return len(r.Errors) == 0 && len(r.UnknownFields) == 0 }

// Messages returns one line per problem, in the API server's words.
func (r CheckResult) Messages() []string {
	out := make([]string, 0, len(r.Errors)+len(r.UnknownFields))
	for _, e := range r.Errors {
		out = append(out, e.Error())
	}
	for _, p := range r.UnknownFields {
		out = append(out, fmt.Sprintf("unknown field %q", p))
	}
	return out
}

// NewSchemaChecker compiles the schema and CEL rules of every served version
// of the given CRDs.
func NewSchemaChecker(crds []*apiextensionsv1.CustomResourceDefinition) (*SchemaChecker, error) {
	c := &SchemaChecker{kinds: map[schema.GroupVersionKind]*kindSchema{}}
	for _, crd := range crds {
		for i := range crd.Spec.Versions {
			v := &crd.Spec.Versions[i]
			if !v.Served || v.Schema == nil {
				continue
			}
			ks, err := compileVersion(crd, v)
			if err != nil {
				return nil, fmt.Errorf("compile %s %s: %w", crd.Name, v.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			c.kinds[gvk] = ks
		}
	}
	return c, nil
}

func compileVersion(crd *apiextensionsv1.CustomResourceDefinition, v *apiextensionsv1.CustomResourceDefinitionVersion) (*kindSchema, error) {
	internal := &apiextensions.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("convert the schema: %w", err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("structural schema: %w", err)
	}
	// As the API server does: defaults must not carry fields the schema prunes.
	structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, fmt.Errorf("prune defaults: %w", err)
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("schema validator: %w", err)
	}
	return &kindSchema{
		structural:  structural,
		openAPI:     openAPI,
		rules:       cel.NewValidator(structural, true, celconfig.PerCallLimit),
		namespaced:  crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		dropsStatus: v.Subresources != nil && v.Subresources.Status != nil,
	}, nil
}

// KnowsGroup reports whether any CRD of the checker serves the group.
func (c *SchemaChecker) KnowsGroup(group string) bool {
	for gvk := range c.kinds {
		if gvk.Group == group {
			return true
		}
	}
	return false
}

// ErrUnknownKind is returned for a kind of a known group that no CRD serves.
type ErrUnknownKind struct{ GVK schema.GroupVersionKind }

func (e *ErrUnknownKind) Error() string {
	return fmt.Sprintf("no kind %q is served in version %q", e.GVK.Kind, e.GVK.GroupVersion())
}

// Check validates obj as a create. It works on a copy: obj is left as read.
func (c *SchemaChecker) Check(ctx context.Context, obj *unstructured.Unstructured) (CheckResult, error) {
	gvk := obj.GroupVersionKind()
	ks, ok := c.kinds[gvk]
	if !ok {
		return CheckResult{}, &ErrUnknownKind{GVK: gvk}
	}
	u := obj.DeepCopy().Object
	// The status subresource makes the API server drop status on create.
	if ks.dropsStatus {
		delete(u, "status")
	}

	// Decoding: prune, coerce metadata, default (the API server's order).
	var res CheckResult
	res.UnknownFields = structuralpruning.PruneWithOptions(u, ks.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, ks.structural)
	if err, _ := schemaobjectmeta.CoerceWithOptions(nil, u, ks.structural, false, schemaobjectmeta.CoerceOptions{}); err != nil {
		res.Errors = append(res.Errors, err)
		return res, nil
	}
	structuraldefaulting.Default(u, ks.structural)

	// Validation: metadata, OpenAPI schema, embedded objects, list types,
	// then CEL unless an earlier error makes the rules meaningless.
	defaulted := &unstructured.Unstructured{Object: u}
	res.Object = defaulted
	res.Errors = append(res.Errors, metavalidation.ValidateObjectMetaAccessor(defaulted,
		ks.namespaced && defaulted.GetNamespace() != "", metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	res.Errors = append(res.Errors, apiservervalidation.ValidateCustomResource(nil, u, ks.openAPI)...)
	res.Errors = append(res.Errors, schemaobjectmeta.Validate(ctx, nil, u, ks.structural, false)...)
	res.Errors = append(res.Errors, listtype.ValidateListSetsAndMaps(nil, ks.structural, u)...)
	if blocking := blockingError(res.Errors); blocking != nil {
		res.Errors = append(res.Errors, blocking)
	} else {
		ruleErrs, _ := ks.rules.Validate(ctx, nil, ks.structural, u, nil, celconfig.RuntimeCELCostBudget)
		res.Errors = append(res.Errors, ruleErrs...)
	}
	return res, nil
}

// blockingError mirrors the API server: after these error types the CEL
// rules are not run, and it says so.
func blockingError(errs field.ErrorList) *field.Error {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong,
			field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return nil
}
