package cli

import (
	"encoding/json"
	"reflect"
)

// emptyLists returns v with every nil slice below it, in structs, maps,
// slices and behind pointers, replaced by an empty one, so --json prints
// every list as [] and never as null: `jq '.failed_files[]'` then works on a
// run where nothing failed. Values that marshal themselves are left alone.
// v's own structs may be updated in place through its pointers.
func emptyLists(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	fillLists(cp, 0)
	return cp.Interface()
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// fillLists replaces nil slices in the settable value v; depth bounds a
// cyclic structure.
func fillLists(v reflect.Value, depth int) {
	if depth > 32 || v.Type().Implements(marshalerType) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fillLists(v.Elem(), depth+1)
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		inner := reflect.New(v.Elem().Type()).Elem()
		inner.Set(v.Elem())
		fillLists(inner, depth+1)
		v.Set(inner)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fillLists(f, depth+1)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.Type().Elem().Kind() != reflect.Uint8 { // []byte marshals as a string
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		for i := range v.Len() {
			fillLists(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := range v.Len() {
			fillLists(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		it := v.MapRange()
		for it.Next() {
			val := reflect.New(it.Value().Type()).Elem()
			val.Set(it.Value())
			fillLists(val, depth+1)
			v.SetMapIndex(it.Key(), val)
		}
	}
}
